"""Running one planned run: claim it, train it and write its directory (what every executor calls).

A run is claimed with an exclusive, non-blocking flock on RUN_DIR/.lock (the lock `netlab train`
holds, files/runs.run_lock) for as long as it trains. So two processes on one sweep (the same
`netlab experiment` started twice, or the workers of a cluster job) never train the same run: the
second finds the lock taken and reports the run as busy, or takes the lock after the first is done
and finds the run finished. The kernel drops the lock when its holder dies, even by SIGKILL, so a
killed run is claimed again by the next process. Across machines this needs a file system whose
flock every client sees (local disks, NFSv4, Lustre or GPFS mounted with flock).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NetlabError
from .plan import RunSpec, is_finished, read_summary

TRAINED, FINISHED, BUSY, FAILED = "trained", "finished", "busy", "failed"


@dataclass(frozen=True)
class Outcome:
    """What run_one did: TRAINED the run, found it FINISHED by another process since it was
    planned, or found it BUSY (another process holds its lock: `holder` says which, if known);
    in a stack (run_stack), a run that FAILED says why in `error` while the others go on."""

    status: str
    summary: dict[str, Any] | None = None
    holder: str = ""
    error: str = ""


class RunStopped(NetlabError):
    """A worker was sent SIGTERM while it trained a run; the run is not finished."""


def claim(run_dir: Path):
    """Hold RUN_DIR/.lock without waiting (files/runs.py try_lock, the lock `netlab train`
    takes): yields None while this process holds it, or the holder's note when another does."""
    from ..files.runs import try_lock

    return try_lock(run_dir)


def run_one(spec: RunSpec, device: str = "cpu", blas_threads: int | None = None) -> Outcome:
    """Claim the run, train it and write its directory, unless another process has it or has
    finished it meanwhile.

    `blas_threads` is applied with threadpoolctl when it is installed (the dask extra); the local
    executor sets it through the environment of its worker processes instead.
    """
    with worker_call():
        return _claim_and_train(spec, device, blas_threads)


@contextmanager
def worker_call() -> Iterator[None]:
    """Around a run (or a stack of runs) in this worker: RunStopped at once once SIGTERM came
    (start nothing new), and SIGTERM meanwhile stops it with RunStopped (stop_on_sigterm)."""
    if _worker["stopping"]:
        raise RunStopped("not started: its worker was stopped by SIGTERM")
    _worker["calls"] += 1
    try:
        yield
    finally:
        _worker["calls"] -= 1


def _claim_and_train(spec: RunSpec, device: str, blas_threads: int | None) -> Outcome:
    from ..files.runs import write_run
    from ..training.run import train

    if blas_threads:
        limit_blas_threads(blas_threads)
    with claim(spec.run_dir) as holder:
        if holder is not None:
            return Outcome(BUSY, holder=holder)
        if is_finished(spec, device, blas_threads or 1):
            return Outcome(FINISHED, read_summary(spec.run_dir))
        try:
            result = train(spec.config, device=device)
            extra = {"variant": spec.variant, "blas_threads": blas_threads}
            paths = write_run(spec.run_dir, result, force=True, extra=extra)  # over leftovers
        except NetlabError as exc:  # say which run failed, keep the error's type and exit code
            raise type(exc)(f"run {spec.variant!r} seed {spec.seed}: {exc}") from None
    return Outcome(TRAINED, paths["summary"])


_worker = {"calls": 0, "stopping": False}  # this process's runs in progress; SIGTERM seen


def stop_on_sigterm() -> None:
    """Worker processes' signals: SIGINT is ignored (the main process stops its workers with
    SIGTERM), SIGTERM stops the run in progress with RunStopped (its files are written atomically,
    its claim is released on the way out) or ends an idle worker quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: Any) -> None:
    if _worker["stopping"]:  # once: the way out must not be interrupted
        return
    _worker["stopping"] = True
    if not _worker["calls"]:
        raise SystemExit(128 + signum)
    raise RunStopped("stopped by SIGTERM before it finished; a re-run trains it again")


def limit_blas_threads(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the env vars set by the local executor do the job there
        return
    threadpool_limits(n)
