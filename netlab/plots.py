"""Figures: loss and accuracy curves (a line per variant, a band over seeds), confusion matrices.

matplotlib is an optional extra (pip install -e ".[plots]") and is imported only here, with the
headless Agg backend, so plots work on machines without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, NetlabError

Histories = dict[str, list[list[dict[str, float]]]]  # variant -> one history per seed


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise NetlabError(
            'plots need matplotlib; pip install -e ".[plots]" from the netlab checkout'
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _stack(histories: list[list[dict[str, float]]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and a (seeds, epochs) array of `key`, cut to the shortest run (early stops)."""
    n = min(len(h) for h in histories)
    values = np.array([[r[key] for r in h[:n]] for h in histories], dtype=float)
    return np.arange(1, n + 1), values


def plot_curves(histories: Histories, path: str | Path, title: str) -> Any:
    """Train and validation loss (left) and accuracy (right) per epoch, one colour per variant.

    Solid lines are the training split, dashed lines the validation split; each line is the mean
    over seeds and the shaded band spans the lowest to the highest seed. Returns the Figure.
    """
    if not histories or any(not runs or not all(runs) for runs in histories.values()):
        raise DataError("nothing to plot: no finished run with a history")
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (variant, runs) in enumerate(histories.items()):
        color = colors[i % len(colors)]
        seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
        for split, style in (("train", "-"), ("val", "--")):
            for ax, metric, scale in ((ax_loss, "loss", 1.0), (ax_acc, "accuracy", 100.0)):
                epochs, values = _stack(runs, f"{split}_{metric}")
                values = values * scale
                name = "train" if split == "train" else "validation"
                ax.plot(
                    epochs, values.mean(0), style, color=color, label=f"{variant}{seeds}, {name}"
                )
                if len(runs) > 1:
                    ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.15)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (mean per example)", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize="small", loc="lower right")
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig


def plot_confusion(matrix: Any, class_names: list[str], path: str | Path, title: str) -> Any:
    """Heat map of a confusion matrix (rows true class, columns predicted), counts written in."""
    plt = _pyplot()
    cm = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(8, 7), constrained_layout=True)
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, label="test images")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > threshold else "black")  # fmt: skip
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig


def histories_under(directory: str | Path) -> tuple[Histories, str]:
    """Histories of a run directory (one variant) or a sweep directory (variant/seedN/ runs)."""
    from .runs import read_history

    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory} is not a directory; pass a run or sweep directory")
    if (directory / "history.csv").is_file():
        return {directory.name: [read_history(directory / "history.csv")]}, directory.name
    groups: Histories = {}
    for history in sorted(directory.glob("*/seed*/history.csv")):
        if (history.parent / "metrics.json").is_file():  # finished runs only
            groups.setdefault(history.parent.parent.name, []).append(read_history(history))
    if not groups:
        raise DataError(
            f"{directory} holds no finished run (history.csv, or <variant>/seed<N>/history.csv)"
        )
    return groups, directory.name
