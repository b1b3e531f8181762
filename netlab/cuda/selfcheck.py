"""Graph mode checks itself before it trains: a few captured steps against the eager path.

The kernels have been compiled without a GPU but run only where one is. So before graph mode
trains, a short graph of the training plan (check_plan: CHECK_STEPS steps of its batch size, its
partial last batch, its running metrics and per-batch callbacks) runs as a captured graph and as
the eager CuPy path (cuBLAS) from the same state, which is restored afterwards; every parameter
tensor's update (and the running loss sum) must agree to TOLERANCE relative to that tensor's
largest update. Training falls back to eager
when they do not, or when compiling, capturing or launching fails (training/loop.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .fault import context_lost, describe, lost

CHECK_STEPS = 3
# Relative to the largest update of each parameter tensor. The kernels add in another order than
# cuBLAS. Over 3 steps of the baseline network on Fashion-MNIST, the exact model of their float32
# arithmetic (tests/cuda/standin.py) differed from NumPy's by at most 4.1e-6 (tanh, SGD) and
# 2.7e-5 (GELU, Adam) of the largest update (float64: 1.0e-14, 7.6e-14); a wrong stride, gather,
# epilogue or launch geometry changes updates by 1e-1 or more. Adam's update lr g / (|g| + eps)
# magnifies the rounding of a gradient near eps (1e-8) by up to eps / (|g| + eps)^2, so a
# float32 bound much tighter than 1e-2 would now and then reject correct kernels.
TOLERANCE = {"float32": 1e-2, "float64": 1e-8}


def check_plan(n_train: int, batch_size: int) -> tuple[int, int]:
    """(rows, steps per captured graph) of the self-check's short graph of a training plan: its
    batch size, CHECK_STEPS full batches plus the plan's partial last batch if it has one; when
    the plan replays a chunk of steps more than once (graph.CHUNK_STEPS), chunks of
    CHECK_STEPS - 1 steps, so that the check also replays a graph whose offsets advance."""
    from .graph import CHUNK_STEPS

    batch = min(batch_size, n_train)
    full, rest = divmod(n_train, batch)
    rows = min(full, CHECK_STEPS) * batch + rest
    replays = full + (rest > 0) > CHUNK_STEPS
    return rows, (CHECK_STEPS - 1 if replays else CHECK_STEPS)


def self_check(
    model: Any, optimizer: Any, X: Any, y: Any, rows: np.ndarray, batch_size: int,
    loss_norm: str, variant: Any = None, running: bool = True,
) -> str:  # fmt: skip
    """The empty string when a short graph of the training plan over `rows` (check_plan: the
    same batch size, partial last batch, running flag and per-batch callbacks as training)
    matches the eager path, else the cause in one line. The model and the optimizer are left as
    they were. Raises fault.GPUStateLost when a failure poisoned the CUDA context."""
    from ..training.epoch import train_epoch
    from .graph import GraphEpoch

    n, chunk = check_plan(len(rows), batch_size)
    order = np.asarray(rows[:n], dtype=np.int64)
    batch = min(batch_size, len(rows))
    start = _snapshot(model, optimizer)
    batches: list[int] = []
    try:
        runner = GraphEpoch(model, optimizer, X, y, len(order), batch, loss_norm, running=running,
                            variant=variant, chunk_steps=chunk)  # fmt: skip
        sums = runner.run(order, optimizer.lr, batches.append)
        loss = model.backend.to_float(sums[0]) if running else math.nan
        graphed = (model.backend.to_numpy(model.flat), loss)
    except Exception as exc:  # compile, capture or launch errors have no common base class
        if context_lost(model.backend.xp, exc):  # a sticky fault: the restore would raise too
            raise lost(exc) from None
        _restore(model, optimizer, start)
        return describe(exc)
    _restore(model, optimizer, start)
    if batches != list(range(runner.n_steps)):
        return f"graph mode reported batches {batches}, expected 0 to {runner.n_steps - 1}"
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sums = train_epoch(model, optimizer, X, y, order, batch, loss_norm, running=running)
    loss = model.backend.to_float(sums[0]) if running else math.nan
    eager = (model.backend.to_numpy(model.flat), loss)
    _restore(model, optimizer, start)
    return compare(model, start["host"], graphed, eager, runner.n_steps)


def compare(
    model: Any, w0: np.ndarray, graphed: tuple, eager: tuple, steps: int = CHECK_STEPS
) -> str:
    """The empty string when the graph's updates match the eager ones parameter by parameter,
    else which parameter differs and by how much."""
    from ..nn.layers import parameter_shapes

    tol = TOLERANCE[np.dtype(model.backend.dtype).name]
    eps = float(np.finfo(model.backend.dtype).eps)
    (wg, loss_g), (we, loss_e) = graphed, eager
    if not (np.isfinite(we).all() and (math.isnan(loss_e) or math.isfinite(loss_e))):
        return ""  # the eager steps diverge too: training reports that, not the self-check
    offset = 0
    for name, shape in parameter_shapes(model.sizes).items():
        sl = slice(offset, offset + math.prod(shape))
        offset = sl.stop
        dg = wg[sl].astype(np.float64) - w0[sl]
        de = we[sl].astype(np.float64) - w0[sl]
        err = float(np.max(np.abs(dg - de))) if np.isfinite(dg).all() else math.inf
        limit = tol * float(np.max(np.abs(de))) + 4 * eps * float(np.max(np.abs(w0[sl])))
        if not err <= limit:
            return (
                f"{name} after {steps} graph steps differs from the eager path by {err:.3g} "
                f"(allowed {limit:.3g})"
            )
    if not (math.isnan(loss_e) or abs(loss_g - loss_e) <= tol * abs(loss_e)):
        return f"the running loss sum is {loss_g:.6g} in graph mode, {loss_e:.6g} eagerly"
    return ""


def _snapshot(model: Any, optimizer: Any) -> dict:
    return {
        "flat": model.flat.copy(),
        "host": model.backend.to_numpy(model.flat).astype(np.float64),
        "opt": {k: v.copy() for k, v in optimizer.state.items()},
        "steps": optimizer.steps,
    }


def _restore(model: Any, optimizer: Any, snap: dict) -> None:
    xp = model.backend.xp
    xp.copyto(model.flat, snap["flat"])
    for k, v in snap["opt"].items():
        xp.copyto(optimizer.state[k], v)
    optimizer.steps = snap["steps"]
