"""Figures: loss and accuracy curves (a line per variant, a band over seeds), confusion matrices.

matplotlib is an optional extra (pip install -e ".[plots]") and is imported only here, with the
headless Agg backend, so plots work on machines without a display.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, NetlabError, OutputExistsError

Histories = dict[str, list[list[dict[str, float]]]]  # variant -> one history per seed
MAX_DRAWN = 1e100  # larger (valid, finite) values are not drawn


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
    values[np.abs(values) > MAX_DRAWN] = np.nan  # left out: matplotlib's axes overflow
    return np.arange(1, n + 1), values


def _colors(plt: Any, n: int) -> list[Any]:
    """n distinguishable colours: tab10 / tab20 while they last, then a sampled colormap."""
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("viridis")(i / (n - 1)) for i in range(n)]


def check_figure_path(path: str | Path, force: bool = False) -> str:
    """The format of a figure file name (.png, .pdf, .svg); errors for anything else, a missing
    directory, or (without force) an existing file. Call it before expensive work."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "svg"):
        raise DataError(f"cannot write a figure to {path}; use a .png, .pdf or .svg file name")
    if not path.parent.is_dir():
        raise DataError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.exists() and not force:
        raise OutputExistsError(
            f"{path} exists; pass --force to overwrite it or choose another path"
        )
    return fmt


def _save(fig: Any, path: str | Path, force: bool) -> None:
    """Write the figure atomically (temporary file, rename)."""
    from ..files.atomic import atomic_write

    fmt = check_figure_path(path, force)
    atomic_write(Path(path), lambda f: fig.savefig(f, format=fmt, dpi=120), force=force)


def plot_curves(histories: Histories, path: str | Path, title: str, force: bool = True) -> Any:
    """Train and validation loss (left) and accuracy (right) per epoch, one colour per variant.

    Solid lines are the training split, dashed lines the validation split; each line is the mean
    over seeds and the shaded band spans the lowest to the highest seed (runs that stopped early
    cut a variant's curves to its shortest run). Returns the Figure.
    """
    if not histories or any(not runs or not all(runs) for runs in histories.values()):
        raise DataError("nothing to plot: no finished run with a history")
    plt = _pyplot()
    with np.errstate(over="ignore", invalid="ignore"):  # sums of huge losses: drawn off-scale
        fig = _draw_curves(plt, histories, title)
    _save(fig, path, force)
    plt.close(fig)
    return fig


def _draw_curves(plt: Any, histories: Histories, title: str) -> Any:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    colors = _colors(plt, len(histories))
    for color, (variant, runs) in zip(colors, histories.items(), strict=True):
        seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
        for split, style in (("train", "-"), ("val", "--")):
            for ax, metric, scale in ((ax_loss, "loss", 1.0), (ax_acc, "accuracy", 100.0)):
                epochs, values = _stack(runs, f"{split}_{metric}")
                values = values * scale
                name = "train" if split == "train" else "validation"
                label = f"{variant}{seeds}, {name}" if variant else name
                ax.plot(epochs, values.mean(0), style, color=color, label=label)
                if len(runs) > 1:
                    ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.15)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (mean per example)", title="Loss")
    low, high = ax_loss.dataLim.y0, ax_loss.dataLim.y1
    if low > 0 and high / low > 30:  # one diverging variant would flatten all the others
        ax_loss.set_yscale("log")
        ax_loss.set_ylabel("cross-entropy loss (mean per example, log scale)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, 2 * len(histories)),
               fontsize="small")  # fmt: skip
    fig.suptitle(title)
    return fig


def plot_confusion(
    matrix: Any, class_names: list[str], path: str | Path, title: str, force: bool = False
) -> Any:
    """Heat map of a confusion matrix (rows true class, columns predicted), counts written in."""
    plt = _pyplot()
    cm = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(8, 7), layout="constrained")
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
    _save(fig, path, force)
    plt.close(fig)
    return fig


def histories_under(directory: str | Path) -> tuple[Histories, str]:
    """Histories of a run directory (one variant) or a sweep directory (variant/seedN/ runs).

    Sweep variants are named as in their experiment file (metrics.json) and ordered as in the
    sweep's results.csv; only finished runs count.
    """
    from ..files.history import read_history

    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory} is not a directory; pass a run or sweep directory")
    if (directory / "history.csv").is_file():
        return {"": [read_history(directory / "history.csv")]}, str(directory)
    groups: Histories = {}
    for history in sorted(directory.glob("*/seed*/history.csv")):
        metrics = history.parent / "metrics.json"
        if not metrics.is_file():
            continue  # unfinished
        groups.setdefault(_variant(metrics), []).append(read_history(history))
    if not groups:
        raise DataError(
            f"{directory} holds no finished run (history.csv, or <variant>/seed<N>/history.csv)"
        )
    order = _results_order(directory / "results.csv")
    ranked = sorted(groups, key=lambda n: (order.index(n) if n in order else len(order), n))
    return {n: groups[n] for n in ranked}, directory.name


def _variant(metrics: Path) -> str:
    """The variant a sweep run's metrics.json names (the directory's name if it names none)."""
    from ..files.fields import parse_json

    try:
        with open(metrics, "rb") as f:
            name = parse_json(f.read(1 << 20), 1 << 20).get("variant")
    except (OSError, ValueError, AttributeError):  # also fields.Invalid
        name = None
    return name if isinstance(name, str) and name else metrics.parent.parent.name


def _results_order(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [row["variant"] for row in csv.DictReader(f)]
    except (OSError, KeyError, ValueError, csv.Error):
        return []
