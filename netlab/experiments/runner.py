"""Running one planned run: train it and write its directory (what every executor calls)."""

from __future__ import annotations

from typing import Any

from ..errors import NetlabError
from .plan import RunSpec


def run_one(spec: RunSpec, device: str = "cpu", blas_threads: int | None = None) -> dict[str, Any]:
    """Train one run and write its directory; returns its summary (metrics.json).

    `blas_threads` is applied with threadpoolctl when it is installed (the dask extra); the local
    executor sets it through the environment of its worker processes instead.
    """
    from ..files.runs import write_run
    from ..training.run import train

    if blas_threads:
        _limit_blas_threads(blas_threads)
    try:
        result = train(spec.config, device=device)
    except NetlabError as exc:  # say which run failed, keep the error's type and exit code
        raise type(exc)(f"run {spec.variant!r} seed {spec.seed}: {exc}") from None
    extra = {"variant": spec.variant, "blas_threads": blas_threads}
    paths = write_run(spec.run_dir, result, force=True, extra=extra)  # leftovers of a killed try
    return paths["summary"]


def _limit_blas_threads(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the env vars set by the local executor do the job there
        return
    threadpool_limits(n)
