"""Executing an experiment: the unfinished runs, longest first, in local processes or on Dask;
then its results table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError, NetlabError
from .files import Experiment
from .plan import RunSpec, is_finished, plan, read_summary
from .results import write_results
from .runner import BUSY, TRAINED, Outcome


def estimated_cost(config: Config, n_train: int = 48_000) -> float:
    """A rough relative cost of a run (seconds on one core of this project's CPU machine): per
    epoch, a per-step overhead plus the multiply-adds. Used to start the longest runs first."""
    sizes = [784, *config.model.hidden, 10]
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    steps = math.ceil(n_train / config.training.batch_size)
    return config.training.epochs * (steps * 150e-6 + 1.25 * n_train * params * 6 / 45e9)


DEFAULT_STACK_SIZE = 16
# On the CPU, runs with batches below this train alone, but at batch 1 with an optimizer that
# fuses its update there (SGD with Numba: nn/fused_sgd.py): NumPy's passes over every parameter
# bound such steps and a stack of them measured no faster per model than its runs one after
# another (one model's parameters fit a core's cache, a stack's do not; docs/stacks.md).
CPU_MIN_STACK_BATCH = 32


def pack_runs(
    todo: list[RunSpec], stack_size: int, workers: int = 1, device: str = "cpu"
) -> list[list[RunSpec]]:
    """The runs grouped into packs, each trained as one stack (training/stack.py): runs of one
    stack_key and one seed (so the stack reads one batch for all: the shared first-layer GEMM;
    stacks of different seeds measured no faster than the runs alone), except on the CPU at
    batch 1 with the fused step, where stacks of seeds measured faster too, and at most
    `stack_size` per pack; packs are split further while there are fewer than `workers`. A run
    that cannot stack, is alone in its group, or (on the CPU) has a batch below
    CPU_MIN_STACK_BATCH without the fused step is a pack of one. stack_size 1 trains every run
    alone. Packs come longest first (the summed estimated cost of their runs)."""
    from ..nn.backend import get_backend
    from ..nn.optimizers import OPTIMIZERS
    from ..training.stack import stack_key

    compiled = device == "cpu" and get_backend("cpu").compiled_loops

    def key(spec: RunSpec) -> Any:
        t = spec.config.training
        fused = compiled and t.batch_size == 1 and OPTIMIZERS.get(t.optimizer).fused_cpu
        if stack_size == 1 or (device == "cpu" and t.batch_size < CPU_MIN_STACK_BATCH
                               and not fused):  # fmt: skip
            return None
        return (stack_key(spec.config),) if fused else (stack_key(spec.config), t.seed)

    if not isinstance(stack_size, int) or isinstance(stack_size, bool) or not 1 <= stack_size:
        raise ConfigError(f"--stack-size must be an integer >= 1; got {stack_size!r}")
    groups: dict[Any, list[RunSpec]] = {}
    for i, spec in enumerate(todo):
        k = key(spec)
        groups.setdefault(("alone", i) if k is None else k, []).append(spec)
    packs = []
    for group in groups.values():
        n = math.ceil(len(group) / stack_size)
        packs += [group[j::n] for j in range(n)]
    while len(packs) < workers and max(len(p) for p in packs) > 1:
        big = max(packs, key=len)
        packs.remove(big)
        packs += [big[0::2], big[1::2]]
    packs.sort(key=lambda p: -sum(estimated_cost(s.config) for s in p))  # stable
    return packs


@dataclass
class Execution:
    """What execute() did with the runs it was given."""

    todo: list[RunSpec]  # unfinished when execute() started, longest first
    trained: list[RunSpec] = field(default_factory=list)  # by this process
    elsewhere: list[RunSpec] = field(default_factory=list)  # finished by another process meanwhile
    busy: list[tuple[RunSpec, str]] = field(default_factory=list)  # (run, its holder) elsewhere
    failures: list[str] = field(default_factory=list)  # one line each

    def busy_note(self) -> str:
        """One line about the runs another process was training, or "" when there were none."""
        if not self.busy:
            return ""
        holders = sorted({holder for _, holder in self.busy})
        n, one = len(self.busy), len(self.busy) == 1
        return (
            f"{n} {'run was' if one else 'runs were'} being trained by another netlab process "
            f"({'; '.join(holders[:3])}{'; ...' if len(holders) > 3 else ''}) and "
            f"{'is' if one else 'are'} not in this table; run the same command again once it has "
            "finished"
        )


def execute(
    specs: list[RunSpec],
    *,
    workers: int = 1,
    scheduler: Any = None,
    device: str = "cpu",
    blas_threads: int = 1,
    on_done: Any = None,
    stack_size: int = DEFAULT_STACK_SIZE,
    on_packs: Any = None,
) -> Execution:
    """Run the unfinished runs among `specs`, longest first, each claimed before it trains
    (runner.py: two processes on one sweep never train the same run), compatible ones together as
    stacks of at most `stack_size` (pack_runs; 1: each alone). `on_packs(packs)` is called with
    the packs before any trains, `on_done(spec, summary)` for every run this process trained."""
    from .executors import run_dask, run_local

    if not isinstance(workers, int) or not 1 <= workers <= 256:
        raise ConfigError(f"--workers must be an integer in [1, 256]; got {workers!r}")
    if not isinstance(blas_threads, int) or not 1 <= blas_threads <= 256:
        raise ConfigError(f"--blas-threads must be an integer in [1, 256]; got {blas_threads!r}")
    todo = [s for s in specs if not is_finished(s, device, blas_threads)]
    todo.sort(key=lambda s: -estimated_cost(s.config))  # stable: plan order among equals
    done = Execution(todo)

    def on_outcome(spec: RunSpec, outcome: Outcome) -> None:
        if outcome.status == TRAINED:
            done.trained.append(spec)
            if on_done:
                on_done(spec, outcome.summary)
        elif outcome.status == BUSY:
            done.busy.append((spec, outcome.holder))
        else:
            done.elsewhere.append(spec)

    if todo:
        # Packed from every run, then the finished ones left out: the runs of a stack are written
        # together, so a re-run finds the same packs of unfinished runs and their checkpoints
        # resume bit-identically (same --stack-size and --workers).
        unfinished = {s.run_dir for s in todo}
        packs = [
            [s for s in pack if s.run_dir in unfinished]
            for pack in pack_runs(specs, stack_size, workers if scheduler is None else 1, device)
        ]
        packs = [p for p in packs if p]  # fmt: skip
        if on_packs:
            on_packs(packs)
        if scheduler is not None:
            done.failures = run_dask(packs, scheduler, device, on_outcome, blas_threads)
        else:
            done.failures = run_local(packs, workers, device, on_outcome, blas_threads)
    return done


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
    stack_size: int = DEFAULT_STACK_SIZE,
    on_packs: Any = None,
) -> dict[str, Any]:
    """Run every unfinished run (compatible ones as stacks, see execute), then write
    OUT/results.csv and OUT/results.md.

    Returns {"rows", "ran", "skipped", "busy", "csv", "markdown"}: ran counts the runs this process
    trained, skipped those finished before or by another process meanwhile, busy lists the run
    directories another process was training (left out of the table). `on_done(spec, summary)` is
    called after each run this process trained.
    """
    out_dir = Path(out_dir)
    specs = plan(experiment, out_dir)
    done = execute(
        specs,
        workers=workers,
        scheduler=scheduler,
        device=device,
        blas_threads=blas_threads,
        on_done=on_done,
        stack_size=stack_size,
        on_packs=on_packs,
    )
    done.busy = [(s, h) for s, h in done.busy if read_summary(s.run_dir) is None]  # still busy
    result = write_results(experiment, specs, out_dir)
    if done.failures:
        raise failed_runs_error(done.failures, len(done.todo), result["markdown"])
    return {
        **result,
        "ran": len(done.trained),
        "skipped": len(specs) - len(done.trained) - len(done.busy),
        "busy": [str(spec.run_dir) for spec, _ in done.busy],
        "busy_note": done.busy_note(),
    }
