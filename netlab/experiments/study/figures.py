"""The study's figures: training curves of every experiment, protocol by protocol.

Each panel shows at most six variants in the Okabe-Ito colour-blind-safe palette; lines are the mean
over seeds and the shaded band spans the lowest to the highest seed (said in every legend).
Curves are drawn against epochs, and the activation experiment also against updates, because its
batch-1 runs take 48,000 updates per epoch where batch 128 takes 375.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import NetlabError
from ..files import resolve, slug
from .plan import CLASSES_BATCH
from .results import Results, every_key

PALETTE = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")
MAX_LINES = 6
TRAIN_ROWS = 48_000  # the training split: updates per epoch = ceil(48,000 / batch size)


def draw_figures(results: Results, figures_dir: Path) -> dict[tuple[str, str], list[Any]]:
    """(protocol, experiment) -> the figure paths (or a str saying why there is none)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {key: ['matplotlib is missing (pip install -e ".[plots]")'] for key in every_key()}
    try:
        figures_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise NetlabError(f"cannot create {figures_dir} ({exc.strerror}); check the path") from None
    out: dict[tuple[str, str], list[Any]] = {}
    for key in every_key():
        groups = _groups(results, key)
        if not groups:
            out[key] = ["no finished run"]
            continue
        exp = results.experiments[key]
        paths = []
        for i, (subtitle, variants) in enumerate(groups):
            path = (
                figures_dir / f"{slug(exp.name)}{'-' + str(i + 1) if len(groups) > 1 else ''}.png"
            )
            _curves(plt, results, key, variants, path, f"{_title(key)}{subtitle}", "epoch")
            paths.append(path)
        if key[1] == "activations":
            path = figures_dir / f"{slug(exp.name)}-updates.png"
            _curves(
                plt, results, key, groups[0][1], path, f"{_title(key)}, against updates", "update"
            )
            paths.append(path)
        out[key] = paths
    return out


def _groups(results: Results, key: tuple[str, str]) -> list[tuple[str, list[str]]]:
    variants = [v for v, runs in results.records.get(key, {}).items() if runs]
    if key[1] == "regularization":
        batch = [v for v in variants if not v.endswith(CLASSES_BATCH)]
        literal = [v for v in variants if v.endswith(CLASSES_BATCH)]
        groups = [(", loss ÷ batch", batch), (", loss ÷ (classes × batch)", literal)]
        return [g for g in groups if g[1]]
    if not variants:
        return []
    chunks = [variants[i : i + MAX_LINES] for i in range(0, len(variants), MAX_LINES)]
    return [
        ("" if len(chunks) == 1 else f" ({i + 1}/{len(chunks)})", c) for i, c in enumerate(chunks)
    ]


def _title(key: tuple[str, str]) -> str:
    protocol = "paper protocol (N(0,1) init)" if key[0] == "paper" else "corrected protocol"
    return f"{key[1]}: {protocol}"


def _curves(plt, results, key, variants, path, title, axis) -> None:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    seeds = 0
    for color, variant in zip(PALETTE, variants, strict=False):
        runs = results.runs(*key, variant)
        seeds = max(seeds, len(runs))
        batch = _batch(results, key, variant)
        for split, style in (("train", "-"), ("val", "--")):
            for ax, metric, scale in ((ax_loss, "loss", 1.0), (ax_acc, "accuracy", 100.0)):
                x, values = _stack([r.history for r in runs], f"{split}_{metric}")
                if axis == "update":
                    x = x * -(-TRAIN_ROWS // batch)
                values = values * scale
                label = f"{variant}, {'train' if split == 'train' else 'validation'}"
                ax.plot(x, values.mean(0), style, color=color, label=label, linewidth=1.2)
                if len(runs) > 1:
                    ax.fill_between(x, values.min(0), values.max(0), color=color, alpha=0.12)
    xlabel = "epoch" if axis == "epoch" else "updates (log scale)"
    ax_loss.set(xlabel=xlabel, ylabel="cross-entropy (mean per example)", title="Loss")
    ax_acc.set(xlabel=xlabel, ylabel="accuracy (%)", title="Accuracy")
    low, high = ax_loss.dataLim.y0, ax_loss.dataLim.y1
    if low > 0 and high / low > 30:
        ax_loss.set_yscale("log")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if axis == "update":
            ax.set_xscale("log")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=2,
        fontsize="small",
        title=f"lines: mean over {seeds} seeds; bands: min–max over the seeds",
    )
    fig.suptitle(title)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _batch(results: Results, key: tuple[str, str], variant: str) -> int:
    exp = results.experiments[key]
    config = resolve(exp, next(v for v in exp.variants if v.name == variant), exp.seeds[0])
    return config.training.batch_size


def _stack(histories: list[list[dict[str, float]]], key: str) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(h) for h in histories)
    values = np.array([[r[key] for r in h[:n]] for h in histories], dtype=np.float64)
    return np.arange(1, n + 1, dtype=np.float64), values
