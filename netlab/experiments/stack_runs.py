"""A pack of runs trained as one stack (training/stack.py): each run claimed as alone, each
checkpointed after every epoch in its own directory, resumed from there, and written there.

Each run's RUN_DIR/checkpoint.npz is its TrainState after its last epoch (the format `netlab
train` writes), and the one before is kept as checkpoint.prev.npz until the next has been
written, so a kill at any moment, even between two runs' saves, leaves every run of the stack a
checkpoint of one common epoch. A re-run of the sweep plans the same pack (no run of it is
finished: they are all written at the end), finds those checkpoints and continues from that epoch:
the stack then ends bit-identical to an uninterrupted one (tests/experiments/
test_stacked_sweeps.py). The checkpoints are removed once the run's files are written, and
those of a run that failed (a re-run retries it, and the stack it is in, from the start).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from ..errors import NetlabError
from .plan import RunSpec, is_finished, read_summary
from .runner import (
    BUSY,
    FAILED,
    FINISHED,
    TRAINED,
    Outcome,
    RunStopped,
    claim,
    limit_blas_threads,
    run_one,
    worker_call,
)

LATEST, PREVIOUS = "checkpoint.npz", "checkpoint.prev.npz"


def run_pack(
    specs: list[RunSpec], device: str = "cpu", blas_threads: int | None = None
) -> list[Outcome]:
    """The Outcome of each run of a pack (execute.pack_runs): one run trains alone (run_one);
    several of one stack_key are claimed together and train as one stack (training/stack.py),
    each written to its own directory as if it had trained alone."""
    if len(specs) == 1:
        return [run_one(specs[0], device, blas_threads)]
    with worker_call():
        if blas_threads:
            limit_blas_threads(blas_threads)
        return claim_and_train_stack(specs, device, blas_threads)


def claim_and_train_stack(
    specs: list[RunSpec], device: str, blas_threads: int | None
) -> list[Outcome]:
    """Claim every run of the pack (runner.claim), train the free unfinished ones as one stack,
    resumed from their checkpoints where they have them, and write each run's directory."""
    outcomes: dict[int, Outcome] = {}
    with ExitStack() as held:
        todo = []
        for i, spec in enumerate(specs):
            holder = held.enter_context(claim(spec.run_dir))
            if holder is not None:
                outcomes[i] = Outcome(BUSY, holder=holder)
            elif is_finished(spec, device, blas_threads or 1):
                outcomes[i] = Outcome(FINISHED, read_summary(spec.run_dir))
            else:
                todo.append(i)
        if todo:
            states = resume_states([specs[i] for i in todo])
            results = _train([specs[i] for i in todo], device, states)
            for i, result in zip(todo, results, strict=True):
                outcomes[i] = _write(specs[i], result, blas_threads, len(todo))
    return [outcomes[i] for i in range(len(specs))]


def _write(spec: RunSpec, result, blas_threads: int | None, size: int) -> Outcome:
    from ..files.runs import write_run

    if isinstance(result, NetlabError):
        _remove_checkpoints(spec.run_dir)  # a re-run retries it from the start
        return Outcome(FAILED, error=f"run {spec.variant!r} seed {spec.seed}: {result}")
    extra = {"variant": spec.variant, "blas_threads": blas_threads}
    if size > 1:
        extra["stack_size"] = size
    paths = write_run(spec.run_dir, result, force=True, extra=extra)
    _remove_checkpoints(spec.run_dir)
    return Outcome(TRAINED, paths["summary"])


def _train(specs: list[RunSpec], device: str, resume: list) -> list:
    """The runs' results (or errors) trained as one stack, checkpointed after every epoch; one
    run alone trains as run_one trains it; an error of the whole stack (its data, its device) is
    every run's."""
    from ..training.run import train
    from ..training.stack import train_stack

    def checkpoint(i: int, state) -> None:
        save(specs[i].run_dir, state)

    try:
        if len(specs) == 1 and resume[0] is None:
            return [train(specs[0].config, device=device)]
        fresh = all(s is None for s in resume)
        return train_stack([s.config for s in specs], device=device, checkpoint=checkpoint,
                           resume=None if fresh else resume)  # fmt: skip
    except RunStopped:  # SIGTERM: the checkpoints stay for the re-run
        raise
    except NetlabError as exc:
        return [exc] * len(specs)


def save(run_dir: Path, state) -> None:
    """RUN_DIR/checkpoint.npz := state, the one before kept as checkpoint.prev.npz."""
    from ..training.checkpoint import save_checkpoint

    latest = run_dir / LATEST
    if latest.exists():
        os.replace(latest, run_dir / PREVIOUS)
    save_checkpoint(latest, state)


def resume_states(specs: list[RunSpec]) -> list:
    """Each run's TrainState to resume the stack from, all None to start it over. The runs go on
    from the latest epoch E for which every run still training has a checkpoint (its latest or
    the one before); a run that had left the stack by then (stopped early, or at its last epoch)
    from its latest. So the stack resumes with the runs it held at epoch E + 1, as it ran. A run
    without a usable checkpoint (none yet, or one of another config) starts them all over."""
    candidates = [_readable(s) for s in specs]
    latest = [c[0].epoch if c else 0 for c in candidates]
    done = [bool(c) and (c[0].stopped or c[0].epoch >= s.config.training.epochs)
            for c, s in zip(candidates, specs, strict=True)]  # fmt: skip
    going = [e for e, d in zip(latest, done, strict=True) if not d]
    if not going:
        return [c[0] for c in candidates]
    common = min(going)
    if common == 0:
        return [None] * len(specs)
    out = []
    for c, e, d in zip(candidates, latest, done, strict=True):
        state = c[0] if d and e <= common else next((st for st in c if st.epoch == common), None)
        if state is None:
            return [None] * len(specs)
        out.append(state)
    return out


def _readable(spec: RunSpec) -> list:
    """The run's checkpoints that load for its config, latest first."""
    from ..training.checkpoint import load_checkpoint

    out = []
    for name in (LATEST, PREVIOUS):
        try:
            out.append(load_checkpoint(spec.run_dir / name, spec.config.resolved()))
        except (NetlabError, OSError):
            continue
    return out


def _remove_checkpoints(run_dir: Path) -> None:
    for name in (LATEST, PREVIOUS):
        (run_dir / name).unlink(missing_ok=True)
