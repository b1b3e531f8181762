"""The study's runs read back: per experiment and variant, one record per seed (its metrics.json,
history.csv and weights.json), from a directory laid out <experiment>/<variant>/seed<N>/ — the
runs themselves, or the archive of their small files committed under docs/."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...files.history import read_history
from ..files import Experiment, slug
from .plan import EXPERIMENTS, PROTOCOLS, reference_of


@dataclass
class Record:
    """One finished run."""

    seed: int
    summary: dict[str, Any]
    history: list[dict[str, float]]
    weights: dict[str, Any] = field(default_factory=dict)  # weights.json (archive.py)

    def get(self, key: str) -> float:
        value = self.summary.get(key, self.weights.get(key, math.nan))
        return float(value) if isinstance(value, (int, float)) else math.nan


@dataclass
class Results:
    """records[(protocol, experiment)][variant] -> the finished runs, by seed."""

    records: dict[tuple[str, str], dict[str, list[Record]]]
    experiments: dict[tuple[str, str], Experiment]

    def runs(self, protocol: str, experiment: str, variant: str) -> list[Record]:
        return self.records.get((protocol, experiment), {}).get(variant, [])

    def values(self, protocol: str, experiment: str, variant: str, key: str) -> list[float]:
        return [r.get(key) for r in self.runs(protocol, experiment, variant)]

    def reference(self, protocol: str, experiment: str, variant: str) -> list[Record]:
        return self.runs(protocol, experiment, reference_of(experiment, variant))

    @property
    def seeds(self) -> list[int]:
        return sorted(
            {r.seed for group in self.records.values() for v in group.values() for r in v}
        )


def load_results(root: Path, experiments: dict[tuple[str, str], Experiment]) -> Results:
    """Every finished run under root/<experiment slug>/<variant slug>/seed<N>/."""
    records: dict[tuple[str, str], dict[str, list[Record]]] = {}
    for key, exp in experiments.items():
        group: dict[str, list[Record]] = {}
        for variant in exp.variants:
            runs = []
            for seed in exp.seeds:
                record = read_record(
                    root / slug(exp.name) / slug(variant.name) / f"seed{seed}", seed
                )
                if record is not None:
                    runs.append(record)
            group[variant.name] = runs
        records[key] = group
    return Results(records, experiments)


def read_record(run_dir: Path, seed: int) -> Record | None:
    try:
        summary = json.loads((run_dir / "metrics.json").read_text())
        history = read_history(run_dir / "history.csv")
    except (OSError, ValueError):
        return None
    try:
        weights = json.loads((run_dir / "weights.json").read_text())
    except (OSError, ValueError):
        weights = {}
    if not isinstance(summary, dict) or not isinstance(weights, dict):
        return None
    return Record(seed, summary, history, weights)


def mean_std(values: list[float], scale: float = 1.0, fmt: str = ".2f") -> str:
    """'m ± s' (or '—' without values); one value: 'm'."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    m = statistics.fmean(values) * scale
    if len(values) == 1:
        return f"{m:{fmt}}"
    return f"{m:{fmt}} ± {statistics.stdev(values) * scale:{fmt}}"


def every_key() -> list[tuple[str, str]]:
    return [(p, e) for e in EXPERIMENTS for p in PROTOCOLS]
