"""`netlab plot DIR`: redraw the loss and accuracy curves of a run or sweep from its histories."""

from __future__ import annotations

from pathlib import Path

import typer

from .ui import console


def plot(
    directory: Path = typer.Argument(..., help="A run directory or a sweep directory."),
    out: Path = typer.Option(None, "--out", "-o", help="PNG to write (default: DIR/curves.png)."),
) -> None:
    """Plot train and validation loss and accuracy per epoch (mean and band over seeds)."""
    from ..plots import histories_under, plot_curves

    groups, name = histories_under(directory)
    path = out if out is not None else directory / "curves.png"
    plot_curves(groups, path, title=name)
    console.print(f"wrote {path} ({len(groups)} variants, {sum(map(len, groups.values()))} runs)")
