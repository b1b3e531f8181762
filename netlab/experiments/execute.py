"""Executing an experiment: the unfinished runs, longest first, in local processes or on Dask;
then its results table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError, NetlabError
from .files import Experiment
from .plan import RunSpec, is_finished, plan
from .results import write_results


def estimated_cost(config: Config, n_train: int = 48_000) -> float:
    """A rough relative cost of a run (seconds on one core of this project's CPU machine): per
    epoch, a per-step overhead plus the multiply-adds. Used to start the longest runs first."""
    sizes = [784, *config.model.hidden, 10]
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    steps = math.ceil(n_train / config.training.batch_size)
    return config.training.epochs * (steps * 150e-6 + 1.25 * n_train * params * 6 / 45e9)


def execute(
    specs: list[RunSpec],
    *,
    workers: int = 1,
    scheduler: Any = None,
    device: str = "cpu",
    blas_threads: int = 1,
    on_done: Any = None,
) -> tuple[list[RunSpec], list[str]]:
    """Run the unfinished runs among `specs`, longest first; returns (the runs it started, the
    failures, one line each)."""
    from .executors import run_dask, run_local

    if not isinstance(workers, int) or not 1 <= workers <= 256:
        raise ConfigError(f"--workers must be an integer in [1, 256]; got {workers!r}")
    if not isinstance(blas_threads, int) or not 1 <= blas_threads <= 256:
        raise ConfigError(f"--blas-threads must be an integer in [1, 256]; got {blas_threads!r}")
    todo = [s for s in specs if not is_finished(s, device, blas_threads)]
    todo.sort(key=lambda s: -estimated_cost(s.config))  # stable: plan order among equals
    failures: list[str] = []
    if todo:
        if scheduler is not None:
            failures = run_dask(todo, scheduler, device, on_done, blas_threads)
        else:
            failures = run_local(todo, workers, device, on_done, blas_threads)
    return todo, failures


def failed_runs_error(failures: list[str], ran: int, where: Path) -> NetlabError:
    return NetlabError(
        f"{len(failures)} of {ran} runs failed ({'; '.join(failures)}); the table in "
        f"{where} holds the others, and a re-run retries only the failed ones"
    )


def run_experiment(
    experiment: Experiment,
    out_dir: str | Path,
    *,
    workers: int = 1,
    scheduler: Any = None,
    device: str = "cpu",
    blas_threads: int = 1,
    on_done: Any = None,
) -> dict[str, Any]:
    """Run every unfinished run, then write OUT/results.csv and OUT/results.md.

    Returns {"rows", "ran", "skipped", "csv", "markdown"}. `on_done(spec, summary)` is called after
    each run finishes (in this process).
    """
    out_dir = Path(out_dir)
    specs = plan(experiment, out_dir)
    todo, failures = execute(
        specs,
        workers=workers,
        scheduler=scheduler,
        device=device,
        blas_threads=blas_threads,
        on_done=on_done,
    )
    result = write_results(experiment, specs, out_dir)
    if failures:
        raise failed_runs_error(failures, len(todo), result["markdown"])
    return {**result, "ran": len(todo), "skipped": len(specs) - len(todo)}
