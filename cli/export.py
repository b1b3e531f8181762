"""`netlab export MODEL OUT.onnx`: a model file as an ONNX graph (the onnx extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from .ui import console


def export(
    model: Path = typer.Argument(..., help="A model.npz written by netlab train."),
    out: Path = typer.Argument(..., help="The ONNX file to write (.onnx)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing OUT."),
) -> None:
    """Export a model as ONNX: raw input values in, logits and softmax probabilities out."""
    from netlab.integrations.onnx import export_onnx

    path = export_onnx(model, out, force=force)
    console.print(
        f"wrote {path} (input 'pixels': the data's raw values, scaled and normalized inside as "
        "in training; outputs 'logits', 'probabilities')",
        markup=False,
    )
