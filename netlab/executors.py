"""Where the runs of an experiment execute: in this process, in local worker processes, or on Dask.

Every executor runs the same `experiment.run_one` on the same picklable RunSpec, in a process whose
BLAS library uses a fixed number of threads (default 1): OpenBLAS results change in the last bits
with its thread count, so fixing it makes the same seeds give the same numbers whichever executor
ran them, and one thread per worker keeps N workers from oversubscribing the cores (a second
OpenBLAS thread on a busy 2-core machine made epochs erratic: PERFORMANCE-FACTS).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

from .errors import NetlabError
from .experiment import RunSpec, run_one

OnDone = Callable[[RunSpec, dict[str, Any]], None]
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


def run_local(
    specs: list[RunSpec], workers: int, device: str, on_done: OnDone | None, blas_threads: int = 1
) -> None:
    """Runs in `workers` spawned processes (one process for workers == 1), BLAS threads fixed."""
    context = multiprocessing.get_context("spawn")  # fork after BLAS threads start can deadlock
    with _blas_env(blas_threads), ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {pool.submit(run_one, spec, device, blas_threads): spec for spec in specs}
        try:
            for future in as_completed(futures):
                summary = future.result()
                if on_done:
                    on_done(futures[future], summary)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def run_dask(
    specs: list[RunSpec], scheduler: Any, device: str, on_done: OnDone | None, blas_threads: int = 1
) -> None:
    """Runs as tasks on a Dask distributed cluster at `scheduler` (an address or a Client).

    With a CUDA device each task asks for the worker resource GPU=1: start one worker per GPU with
    `--resources GPU=1` and CUDA_VISIBLE_DEVICES set to that GPU. BLAS threads are limited inside
    each task with threadpoolctl (part of the dask extra).
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
    except OSError as exc:
        raise NetlabError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    try:
        resources = {"GPU": 1} if device.startswith("cuda") else None
        futures = {
            client.submit(
                run_one, spec, device, blas_threads, pure=False, resources=resources
            ): spec
            for spec in specs
        }
        for future in dask_completed(list(futures)):
            summary = future.result()
            if on_done:
                on_done(futures[future], summary)
    finally:
        if own:
            client.close()
