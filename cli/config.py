"""`netlab config show`: the resolved config of a run directory, a config file or train's flags;
`netlab config list`: the presets (configs and experiment files) that ship with netlab.

Also the config reference: docs/config.md is generated from the schema (netlab/schema.py) and
train's flags by scripts/config_reference.py; a test fails when they drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from netlab.errors import ConfigError

from . import options
from .ui import console, print_json, table

app = typer.Typer(
    help="Configs: the resolved config of a run or of flags, and the shipped presets.",
    no_args_is_help=True,
)


@app.command("list")
def list_presets(json_out: bool = options.Json) -> None:
    """The presets: configs for `netlab train -c NAME`, experiments for `netlab experiment NAME`."""
    from netlab.presets import list_presets as presets
    from netlab.presets import presets_dir

    rows = presets()
    if json_out:
        print_json({"dir": str(presets_dir()), "presets": rows})
        return
    console.print(f"presets in {presets_dir()}", markup=False)
    for kind, use in (("config", "netlab train -c NAME"), ("experiment", "netlab experiment NAME")):
        chosen = [[r["name"], r["file"], r["summary"]] for r in rows if r["kind"] == kind]
        console.print(
            table(f"{kind.capitalize()}s ({use})", ["name", "file", "what"], chosen,
                  justify_right=False)
        )  # fmt: skip


@app.command("show", context_settings={"ignore_unknown_options": True})
def show(
    ctx: typer.Context,
    args: list[str] = typer.Argument(
        None,
        metavar="[RUN_DIR | CONFIG.toml] [TRAIN FLAGS]...",
        help="A run directory (its config.toml, with the flags that --resume accepts), a config "
        "file, or neither (the built-in baseline), then any `netlab train` flags.",
        show_default=False,
    ),
    json_out: bool = options.Json,
) -> None:
    """Print the config `netlab train` would run with: every field, defaults filled in."""
    from netlab.schema import SCHEMA_VERSION

    from .overrides import resolve

    cfg, _ = resolve(train_params(list(args or []), ctx))
    cfg = cfg.resolved()
    if json_out:
        print_json({"schema": SCHEMA_VERSION, "name": cfg.name, **cfg.to_dict()})
        return
    print(cfg.to_toml(), end="")


def train_command() -> Any:
    """`netlab train` as a click command (its options, defaults and parser)."""
    from . import train as train_cmd

    one = typer.Typer(add_completion=False)
    one.command()(train_cmd.train)
    command = typer.main.get_command(one)
    options.add_setting_flags(command)
    return command


def train_params(args: list[str], ctx: Any = None) -> dict[str, Any]:
    """Train's parameters for `[RUN_DIR | CONFIG.toml] [TRAIN FLAGS]...`, parsed by train itself
    (its errors name the command of `ctx`)."""
    source = args.pop(0) if args and not args[0].startswith("-") else None
    name, parent = (ctx.info_name, ctx.parent) if ctx is not None else ("train", None)
    parsed = train_command().make_context(name, args, parent=parent)
    params = {k: Path(v) if k in ("config", "out", "resume", "tensorboard") and v else v
              for k, v in parsed.params.items()}  # fmt: skip
    if source is not None:
        path = Path(source)
        if params["config"] is not None or params["resume"] is not None:
            raise ConfigError(f"pass {source} or --config/--resume, not both")
        if path.is_dir():
            params["resume"] = path
        elif path.is_file():
            params["config"] = path
        else:
            raise ConfigError(
                f"{source} is neither a run directory nor a config file; pass an existing one"
            )
    return params


def reference() -> str:
    """docs/config.md: every section and key of a config file with its type and range, default,
    train flag and meaning, from the schema."""
    from netlab.schema import FIELDS, SCHEMA_VERSION

    flags = {o for p in train_command().params for o in getattr(p, "opts", [])}
    lines = [
        "# Config files",
        "",
        "<!-- Generated from netlab/schema.py and the settings registry entries declare, by",
        "     `make docs` (scripts/config_reference.py); tests/cli/test_config_show.py fails when",
        "     this page and the schema differ. -->",
        "",
        f"A config file is TOML: `schema = {SCHEMA_VERSION}` (the format's version), `name` (the "
        "run name; default: the file's name),",
        "and the tables below. Every key is optional and takes the default shown; a key or a "
        "section not listed here is an",
        "error. `netlab train` flags override the file (the *flag* column; keys without a flag "
        "are set in a file).",
        "`netlab config show [RUN_DIR | FILE] [FLAGS]` prints the resolved config: every key, "
        "defaults filled in.",
    ]
    for section, fields in FIELDS.items():
        lines += ["", f"## [{section}]", "", "| key | value | default | flag | meaning |"]
        lines.append("|---|---|---|---|---|")
        for key, f in fields.items():
            flag = options.flag_for(f"{section}.{key}")
            row = (
                f"`{key}`",
                f.expected(),
                "none" if f.default is None else f"`{_toml(f.default)}`",
                f"`{flag}`" if flag in flags else "(file only)",
                f.help,
            )
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)
