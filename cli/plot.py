"""`netlab plot DIR`: redraw the loss and accuracy curves of a run or sweep from its histories."""

from __future__ import annotations

from pathlib import Path

import typer

from .ui import console


def plot(
    directory: Path = typer.Argument(..., help="A run directory or a sweep directory."),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Figure to write, .png/.pdf/.svg (default: DIR/curves.png, redrawn).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out file."),
) -> None:
    """Plot train and validation loss and accuracy per epoch (mean and band over seeds)."""
    from netlab.errors import DataError
    from netlab.integrations.plots import check_figure_path, histories_under, plot_curves

    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise DataError(
            f"{directory} {what}; pass a run directory (netlab train) or a sweep directory "
            "(netlab experiment)"
        )
    path = out if out is not None else directory / "curves.png"
    overwrite = force or out is None  # DIR/curves.png is derived from DIR and always redrawn
    check_figure_path(path, overwrite)
    groups, name = histories_under(directory)
    plot_curves(groups, path, title=name, force=overwrite)
    console.print(f"wrote {path} ({len(groups)} variants, {sum(map(len, groups.values()))} runs)")
