"""Planning an experiment's runs and telling which have finished.

Each (variant, seed) is one run with its own directory OUT/<variant>/seed<N>/ holding the files of a
training run (files/runs.py). A run counts as finished when its metrics.json exists (written last)
and its config.toml holds the same resolved config as the plan (compared by value, so a field
added to netlab since the run was trained does not matter), so an interrupted sweep resumes where
it stopped; a directory holding a different config is an error, never silently reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, load_config, same_run
from ..errors import NetlabError, OutputExistsError
from ..files.fields import integer, number, parse_json, table
from .files import Experiment, resolve, slug


@dataclass(frozen=True)
class RunSpec:
    """One training run of an experiment: picklable, so any executor can carry it."""

    variant: str
    seed: int
    config: Config
    run_dir: Path


def plan(experiment: Experiment, out_dir: str | Path) -> list[RunSpec]:
    """Every run of the experiment, variant by variant, seed by seed."""
    out_dir = Path(out_dir).resolve()  # absolute: Dask workers may run in other directories
    return [
        RunSpec(v.name, seed, resolve(experiment, v, seed), out_dir / slug(v.name) / f"seed{seed}")
        for v in experiment.variants
        for seed in experiment.seeds
    ]


RUN_FILES = ("model.npz", "history.csv", "config.toml", "metrics.json")
SUMMARY_KEYS = {  # and best_epoch
    "test_accuracy": (0.0, 1.0),
    "test_loss": (0.0, math.inf),
    "val_accuracy": (0.0, 1.0),
    "train_seconds": (0.0, math.inf),
}
MAX_SUMMARY_BYTES = 1 << 20


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's metrics.json when all four files exist and it has every summary key in range
    (a loss may be NaN: inf logits), else None."""
    if not all((run_dir / name).is_file() for name in RUN_FILES):
        return None
    try:
        with open(run_dir / "metrics.json", "rb") as f:
            summary = table(parse_json(f.read(MAX_SUMMARY_BYTES + 1), MAX_SUMMARY_BYTES), "")
        for key, (lo, hi) in SUMMARY_KEYS.items():
            number(summary.get(key), key, lo, hi, nan=key.endswith("loss"))
        integer(summary.get("best_epoch"), "best_epoch", 1, 1_000_000)
    except (OSError, ValueError):  # also Invalid: too large, too deep, not JSON, out of range
        return None
    return summary


def is_finished(spec: RunSpec, device: str = "cpu", blas_threads: int = 1) -> bool:
    """True when the run's files are complete and belong to this config and these settings.

    Raises OutputExistsError when the directory holds a finished run of another config, device or
    BLAS thread count (numbers from those differ, so they are never mixed into one table).
    """
    summary = read_summary(spec.run_dir)
    if summary is None:
        return False
    try:
        same = same_run(load_config(spec.run_dir / "config.toml"), spec.config, ignore=("name",))
    except (OSError, NetlabError):
        return False
    settings = (summary.get("device"), summary.get("blas_threads"))
    wanted = (_device_name(device) or settings[0], blas_threads)  # "auto" accepts either device
    if not same or settings != wanted:
        raise OutputExistsError(
            f"{spec.run_dir} holds a finished run of a different config or settings "
            f"(device, BLAS threads: {settings}); choose another --out, or delete that directory"
        )
    return True


def _device_name(device: str) -> str | None:
    return {"cuda": "cuda:0", "auto": None}.get(device, device)
