"""`netlab eval MODEL`: test loss, accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

from pathlib import Path

import typer

from . import options
from .ui import console, pct, print_json, table


def evaluate(
    model: Path = typer.Argument(..., help="A model.npz written by `netlab train`."),
    device: str = options.Device,
    json_out: bool = options.Json,
    data: str = typer.Option(
        None, "--data", help="fashion-mnist or sample (default: what the model was trained on)."
    ),
    data_dir: str = options.DataDir,
    plot: Path = typer.Option(None, "--plot", help="Also draw the confusion matrix into this PNG."),
) -> None:
    """Evaluate a saved model on the test split."""
    from ..evaluation import evaluate_model_file

    if plot is not None:
        from ..plots import check_figure_path

        check_figure_path(plot)  # before the evaluation: a bad path fails at once
    report = evaluate_model_file(model, device=device, source=data, data_dir=data_dir)
    if plot is not None:
        from ..plots import plot_confusion

        plot_confusion(
            report["confusion_matrix"],
            report["class_names"],
            plot,
            title=f"{model} - test split, accuracy {pct(report['test_accuracy'])}",
        )
    if json_out:
        print_json(report)
        return
    names = report["class_names"]
    console.print(
        f"{report['model']}: test loss {report['test_loss']:.4f}, "
        f"test accuracy {pct(report['test_accuracy'])} ({report['n_test']} test images)"
    )
    console.print(
        table(
            "Per-class accuracy (test)",
            ["class", "accuracy"],
            [[n, pct(a)] for n, a in report["per_class_accuracy"].items()],
        )
    )
    short = [n.split("/")[0][:7] for n in names]
    console.print(
        table(
            "Confusion matrix (test; rows true, columns predicted)",
            ["true \\ pred", *short],
            [[names[i], *row] for i, row in enumerate(report["confusion_matrix"])],
        )
    )
