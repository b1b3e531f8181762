"""`netlab config list`: the presets (configs and experiment files) that ship with netlab."""

from __future__ import annotations

import typer

from . import options
from .ui import console, print_json, table

app = typer.Typer(help="The config presets that ship with netlab.", no_args_is_help=True)


@app.command("list")
def list_presets(json_out: bool = options.Json) -> None:
    """The presets: configs for `netlab train -c NAME`, experiments for `netlab experiment NAME`."""
    from ..presets import list_presets as presets
    from ..presets import presets_dir

    rows = presets()
    if json_out:
        print_json({"dir": str(presets_dir()), "presets": rows})
        return
    console.print(f"presets in {presets_dir()}", markup=False)
    for kind, use in (("config", "netlab train -c NAME"), ("experiment", "netlab experiment NAME")):
        chosen = [[r["name"], r["file"], r["summary"]] for r in rows if r["kind"] == kind]
        console.print(table(f"{kind.capitalize()}s ({use})", ["name", "file", "what"], chosen,
                            justify_right=False))  # fmt: skip
