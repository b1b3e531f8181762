"""One epoch of mini-batch training (eager: NumPy, or CuPy launched from Python), and the replay
that finds the first batch of a diverged epoch."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn.arrays import Array
from ..nn.layers import MLP
from ..nn.losses import softmax_cross_entropy
from ..nn.optimizers import Optimizer


@dataclass
class Regularizers:
    """Per-step randomness and targets beyond the plain step; all off by default."""

    dropout: float = 0.0
    input_dropout: float = 0.0
    label_smoothing: float = 0.0
    dropout_rng: np.random.Generator | None = None
    augmenter: Any = None  # augment.Augmenter
    augment_rng: np.random.Generator | None = None

    @classmethod
    def from_config(cls, t: Any, rngs: Any, augmenter: Any = None) -> Regularizers:
        return cls(t.dropout, t.input_dropout, t.label_smoothing, rngs.dropout, augmenter,
                   rngs.augment)  # fmt: skip


def batch_step(
    model: MLP, optimizer: Optimizer, x: Array, yb: Array, loss_norm: str, reg: Regularizers,
    running: bool = False, fuse: bool = False,
) -> tuple[Array | None, Array | None]:  # fmt: skip
    """Forward, loss gradient, backward, update on one batch; with running=True also returns
    (the batch's mean cross-entropy, number right) measured before the update, as device scalars.
    fuse (optimizer.fuses(batch_size)): a batch of 1 hands the optimizer the first layer's
    gradient as its factors (nn/factors.py)."""
    if reg.augmenter is not None:
        x = reg.augmenter.apply(x, reg.augment_rng)
    logits, backward = model.forward(
        x, dropout=reg.dropout, input_dropout=reg.input_dropout, rng=reg.dropout_rng
    )
    correct = (logits.argmax(axis=1) == yb).sum() if running else None
    loss, dlogits = softmax_cross_entropy(
        logits, yb, loss_norm, need_loss=running, smoothing=reg.label_smoothing
    )
    factors = backward(dlogits, first_factors=fuse)
    optimizer.step(factors if fuse else None)
    return loss, correct


def train_epoch(
    model: MLP,
    optimizer: Optimizer,
    X: Array,
    y: Array,
    order: np.ndarray,
    batch_size: int,
    loss_norm: str,
    on_batch: Callable[[int], None] | None = None,
    *,
    reg: Regularizers | None = None,
    running: bool = False,
) -> tuple[Array, Array] | None:
    """One pass of mini-batch training over X[order] (the last batch may be smaller).

    running=True also returns (sum of the batches' cross-entropy, number right) as device
    scalars, measured on each batch before its update (as scikit-learn's loss_curve_ is): cheaper
    than a full pass over the training split after the epoch, and not the same number.
    """
    reg = reg or Regularizers()
    backend = model.backend
    xp = backend.xp
    order_dev = backend.asarray(order)  # one transfer per epoch
    n = len(order)
    batch_x = backend.empty((min(batch_size, n), X.shape[1]), dtype=X.dtype)
    fuse = optimizer.fuses(batch_size)
    loss_sum = xp.zeros((), dtype=np.float64) if running else None
    correct = xp.zeros((), dtype=np.int64) if running else None
    for b, start in enumerate(range(0, n, batch_size)):
        idx = order_dev[start : start + batch_size]
        x = backend.take_rows(X, idx, batch_x[: len(idx)])
        loss, right = batch_step(model, optimizer, x, y.take(idx), loss_norm, reg, running, fuse)
        if running:
            loss_sum += loss * len(idx)
            correct += right
        if on_batch is not None:
            on_batch(b)
    return (loss_sum, correct) if running else None


def locate_divergence(
    model: MLP,
    optimizer: Optimizer,
    X: Array,
    y: Array,
    order: np.ndarray,
    batch_size: int,
    loss_norm: str,
    reg: Regularizers,
) -> str:
    """Replay an epoch from its start, checking every batch (a sync per batch, only after a
    divergence): ", batch B of N: <what became non-finite>", or "" if the replay stays finite."""
    backend, xp = model.backend, model.backend.xp
    n = len(order)
    batches, fuse = math.ceil(n / batch_size), optimizer.fuses(batch_size)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for b, start in enumerate(range(0, n, batch_size)):
            idx = backend.asarray(order[start : start + batch_size])
            loss, _ = batch_step(model, optimizer, X[idx], y[idx], loss_norm, reg, True, fuse)
            value = backend.to_float(loss)
            if not math.isfinite(value):
                return f", batch {b + 1} of {batches}: the batch loss is {value}"
            if not bool(xp.isfinite(model.flat).all()):
                for name, p in model.params.items():
                    bad = p[~xp.isfinite(p)]
                    if bad.size:
                        first = backend.to_float(bad[0])
                        return (
                            f", batch {b + 1} of {batches}: parameter {name} became {first} "
                            f"(batch loss {value:.4g})"
                        )
    return ""
