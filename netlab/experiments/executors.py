"""Where the runs of an experiment execute: in local worker processes, or on a Dask cluster.

Every executor runs the same `stack_runs.run_pack` on the same picklable RunSpecs (a pack: one
run, or runs that train as one stack, execute.pack_runs), each pack one task, in a process whose
BLAS library uses a fixed number of threads (default 1): OpenBLAS results change in the last bits
with its thread count, so fixing it makes the same seeds give the same numbers whichever executor
ran them, and one thread per worker keeps N workers from oversubscribing the cores (a second
OpenBLAS thread on a busy 2-core machine made epochs erratic: PERFORMANCE-FACTS).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from ..errors import NetlabError
from .plan import RunSpec
from .runner import BUSY, FAILED, Outcome, stop_on_sigterm
from .stack_runs import run_pack

OnOutcome = Callable[[RunSpec, Outcome], None]
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def _blas_env(threads: int):
    """Set the BLAS thread variables that spawned workers read when they import NumPy."""
    saved = {k: os.environ.get(k) for k in BLAS_ENV}
    os.environ.update({k: str(threads) for k in BLAS_ENV})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _failure(spec: RunSpec, exc: BaseException | str) -> str:
    text = str(exc)
    return text if text.startswith("run ") else f"run {spec.variant!r} seed {spec.seed}: {text}"


def _settle(
    future: Any, pack: list[RunSpec], failures: list[str], catch: tuple, on_outcome: OnOutcome
) -> None:
    """Hand each run's Outcome of a pack to on_outcome, or record its failure (a FAILED outcome,
    or an exception in `catch`: then every run of the pack failed)."""
    try:
        outcomes = future.result()
    except catch as exc:
        reason = exc if isinstance(exc, NetlabError) else f"{type(exc).__name__}: {exc}"
        failures.extend(_failure(spec, reason) for spec in pack)
        return
    for spec, outcome in zip(pack, outcomes, strict=True):
        if outcome.status == FAILED:
            failures.append(_failure(spec, outcome.error))
        else:
            on_outcome(spec, outcome)


def run_local(
    packs: list[list[RunSpec]], workers: int, device: str, on_outcome: OnOutcome,
    blas_threads: int = 1,
) -> list[str]:  # fmt: skip
    """Packs of runs (execute.pack_runs; each trains alone or as one stack) in `workers` spawned
    processes (one process for workers == 1), BLAS threads fixed.

    Ctrl-C or SIGTERM here stops the workers with SIGTERM (runner.stop_on_sigterm): the runs in
    progress end unfinished, their claims released. Returns the failed runs, one line each.
    """
    from concurrent.futures.process import BrokenProcessPool

    failures: list[str] = []
    context = multiprocessing.get_context("spawn")  # fork after BLAS threads start can deadlock
    with _blas_env(blas_threads), ProcessPoolExecutor(
        workers, mp_context=context, initializer=stop_on_sigterm
    ) as pool:  # fmt: skip
        finished: queue.SimpleQueue = queue.SimpleQueue()
        futures = {}
        for pack in packs:
            future = pool.submit(run_pack, pack, device, blas_threads)
            future.add_done_callback(finished.put)  # called in the pool's thread
            futures[future] = pack
        try:
            for _ in futures:
                # Not as_completed: it takes every future's lock at once to register its waiter,
                # and a Ctrl-C or SIGTERM raised in that loop leaves some held (the pool's thread
                # then blocks on them and the shutdown below never returns). A SimpleQueue's get
                # holds nothing when interrupted.
                future = finished.get()
                _settle(future, futures[future], failures, (NetlabError,), on_outcome)
        except BrokenProcessPool:
            raise NetlabError(
                "a worker process died (killed, or out of memory); finished runs are kept, "
                "run the same command again to resume"
            ) from None
        except BaseException:  # Ctrl-C, SIGTERM (a KeyboardInterrupt), an error in on_outcome
            for future in futures:
                future.cancel()
            for child in multiprocessing.active_children():  # this pool's workers
                child.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return failures


def _visible(on_outcome: OnOutcome) -> OnOutcome:
    """on_outcome, after checking that this machine sees the run a Dask worker finished."""

    def seen(spec: RunSpec, outcome: Outcome) -> None:
        if outcome.status != BUSY and not (spec.run_dir / "metrics.json").is_file():
            raise NetlabError(
                f"a Dask worker finished {spec.run_dir} but this machine cannot see it; the "
                "workers must share the filesystem holding --out"
            )
        on_outcome(spec, outcome)

    return seen


def run_dask(
    packs: list[list[RunSpec]], scheduler: Any, device: str, on_outcome: OnOutcome,
    blas_threads: int = 1,
) -> list[str]:  # fmt: skip
    """Packs of runs (each one task: alone or as one stack) on a Dask distributed cluster at
    `scheduler` (an address or a Client).

    The workers write the run directories themselves, so they must see the same filesystem as this
    machine at the same (absolute) --out path. With a CUDA device each task asks for the worker
    resource GPU=1: start one worker per GPU with `--resources GPU=1` and CUDA_VISIBLE_DEVICES set
    to that GPU. BLAS threads are limited inside each task with threadpoolctl (the dask extra).
    Returns the failed runs, one line each.
    """
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise NetlabError(
            'the Dask executor needs the dask extra; pip install -e ".[dask]" from the checkout'
        ) from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=30) if own else scheduler
    except (OSError, ValueError, TypeError) as exc:
        raise NetlabError(
            f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); pass tcp://HOST:PORT"
        ) from None
    failures = []
    try:
        resources = None
        if device.startswith("cuda"):
            workers = client.scheduler_info().get("workers", {}).values()
            if not any(w.get("resources", {}).get("GPU") for w in workers):
                raise NetlabError(
                    "--device cuda on Dask needs workers started with --resources GPU=1 "
                    "(one per GPU); none of this cluster's workers has that resource"
                )
            resources = {"GPU": 1}
        futures = {
            client.submit(
                run_pack, pack, device, blas_threads, pure=False, resources=resources
            ): pack
            for pack in packs
        }

        try:
            for future in dask_completed(list(futures)):
                # Also KilledWorker, CancelledError, a worker without netlab, ...
                _settle(future, futures[future], failures, (Exception,), _visible(on_outcome))
        except BaseException:  # Ctrl-C, SIGTERM: queued runs are dropped
            client.cancel(list(futures))
            raise
    finally:
        if own:
            client.close()
    return failures
