"""`netlab eval MODEL`: test loss, accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from . import options
from .ui import console, pct, print_json, table

Model = typer.Argument(..., help="A model.npz written by `netlab train`.")
Data = typer.Option(None, "--data", help=options.data_help("the data the model was trained on"))
Plot = typer.Option(
    None,
    "--plot",
    help="Also draw the confusion matrix into this figure (.png, .pdf, .svg). \\[default: none]",
)
Force = typer.Option(False, "--force", help="Overwrite an existing --plot file.")
L2Penalty = typer.Option(
    None,
    "--l2-penalty",
    help="Also report test loss + this λ times the sum of squared weights (a loss that "
    "includes its L2 term, as the study's may have; default: the model's own l2, if any).",
)


def evaluate(
    model: Path = Model,
    device: str = options.Device,
    json_out: bool = options.Json,
    data: str = Data,
    data_dir: str = options.DataDir,
    plot: Path = Plot,
    force: bool = Force,
    l2_penalty: float = L2Penalty,
) -> None:
    """Evaluate a saved model on the test split."""
    from netlab.errors import ModelFileError
    from netlab.training.evaluation import evaluate_model_file

    if model.is_dir():
        inside = model / "model.npz"
        hint = f"pass {inside}" if inside.is_file() else "pass the model.npz of a training run"
        raise ModelFileError(f"{model} is a directory, not a model file; {hint}")
    if plot is not None:
        from netlab.integrations.plots import check_figure_path

        check_figure_path(plot, force)  # before the evaluation: a bad path fails at once
    source, location = options.data_location(data, data_dir)
    report = evaluate_model_file(
        model, device=device, source=source, location=location, l2_penalty=l2_penalty
    )
    if plot is not None:
        from netlab.integrations.plots import plot_confusion

        plot_confusion(
            report["confusion_matrix"],
            report["class_names"],
            plot,
            title=f"{model} - test split, accuracy {pct(report['test_accuracy'])}",
            force=force,
        )
    if json_out:
        print_json(report)
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    """The summary line(s), per-class accuracy and the confusion matrix."""
    names = report["class_names"]
    console.print(
        f"{report['model']}: test loss {report['test_loss']:.4f}, "
        f"test accuracy {pct(report['test_accuracy'])} ({report['n_test']} test examples of "
        f"{report['data_source']})"
    )
    if "l2_penalty" in report:
        console.print(
            f"test loss with the L2 penalty (λ = {report['l2']:g}): "
            f"{report['test_loss_with_l2_penalty']:.4f} (penalty {report['l2_penalty']:.4f})"
        )
    console.print(
        table(
            "Per-class accuracy (test)",
            ["class", "accuracy"],
            [[n, pct(a)] for n, a in report["per_class_accuracy"].items()],
        )
    )
    # Columns are numbered like the rows, so full class names fit in 80 columns.
    console.print(
        table(
            "Confusion matrix (test; rows: true class, columns: predicted class)",
            ["true class", *map(str, range(len(names)))],
            [
                [f"{i} {n}", *row]
                for i, (n, row) in enumerate(zip(names, report["confusion_matrix"], strict=True))
            ],
        )
    )
