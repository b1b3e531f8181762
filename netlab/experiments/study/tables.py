"""Reading the study's runs back: table rows, per-run summaries and histories, formatting."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from ..plan import RunSpec, read_summary
from .plan import Study


def _row(tables: dict, key: tuple[str, str], variant: str) -> dict[str, Any] | None:
    for row in tables[key]["rows"]:
        if row["variant"] == variant:
            return row
    return None


def _pm(row: dict[str, Any] | None, key: str, scale: float = 1.0, fmt: str = ".2f") -> str:
    if row is None or not row["seeds"] or math.isnan(row[f"{key}_mean"]):
        return "—"
    return f"{row[f'{key}_mean'] * scale:{fmt}} ± {row[f'{key}_std'] * scale:{fmt}}"


def _acc(row: dict[str, Any] | None) -> float:
    return math.nan if row is None or not row["seeds"] else 100.0 * row["test_accuracy_mean"]


def _summaries(study: Study, key: tuple[str, str], variant: str) -> list[tuple[RunSpec, dict]]:
    out = []
    for spec in study.specs[key]:
        if spec.variant == variant and (s := read_summary(spec.run_dir)) is not None:
            out.append((spec, s))
    return out


def _histories(study: Study, key: tuple[str, str], variant: str) -> list[list[dict[str, float]]]:
    from ...files.history import read_history

    return [
        read_history(spec.run_dir / "history.csv") for spec, _ in _summaries(study, key, variant)
    ]


def _weight_penalty(study: Study, key: tuple[str, str], variant: str, l2: float) -> list[float]:
    """l2 * sum of squared weights of each finished run's saved (best-epoch) model."""
    out = []
    for spec, _ in _summaries(study, key, variant):
        with np.load(spec.run_dir / "model.npz", allow_pickle=False) as z:
            total = sum(float(np.sum(z[k].astype(np.float64) ** 2)) for k in z.files if k[0] == "W")
        out.append(l2 * total)
    return out


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _shown(path: Path) -> str:
    """A path as a reader should type it: relative to the current directory when inside it."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _cpu_count() -> int:
    import os

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
