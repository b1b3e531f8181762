"""Options shared by several commands."""

from __future__ import annotations

import typer

Device = typer.Option("cpu", "--device", "-d", help="cpu, cuda, cuda:N or auto (cuda when usable).")
Json = typer.Option(False, "--json", help="Print the result as JSON instead of tables.")
DataDir = typer.Option(
    None,
    "--data-dir",
    help="Directory with the Fashion-MNIST files (else $NETLAB_DATA, "
    "~/.cache/netlab/fashion-mnist, "
    "/usr/share/datasets/fashion-mnist).",
)


def parse_ints(text: str | None, what: str) -> tuple[int, ...] | None:
    """'50,50' -> (50, 50); a usage error naming `what` for anything else."""
    if text is None:
        return None
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated integers like 50,50; got {text!r}", param_hint=what
        ) from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter(
            f"expected positive integers like 50,50; got {text!r}", param_hint=what
        )
    return values
