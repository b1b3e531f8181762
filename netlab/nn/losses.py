"""Softmax + cross-entropy, fused: the loss and its gradient with respect to the logits."""

from __future__ import annotations

import math

from ..errors import ConfigError
from .arrays import Array, array_module

LOSS_NORMS = ("batch", "classes_batch")


def log_softmax(logits: Array) -> Array:
    """log softmax over the last axis via log-sum-exp (subtracting the row max, so exp never
    overflows).

    Args:
        logits: (batch, classes) float, or (K, batch, classes) for a stack of K models.
    Returns:
        the same shape and dtype; a new array.
    """
    xp = array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    lse = xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
    shifted -= lse
    return shifted


def softmax_cross_entropy(
    logits: Array,
    labels: Array,
    norm: str = "batch",
    *,
    need_loss: bool = True,
    smoothing: float = 0.0,
) -> tuple[Array | None, Array]:
    """Mean cross-entropy of softmax(logits) against integer labels, and d(objective)/d(logits).

    The returned loss is always the mean cross-entropy per example (comparable across settings).
    The gradient is that of the training objective:
      norm="batch":          objective = sum of CE / batch        -> (softmax - onehot) / batch
      norm="classes_batch":  objective = sum of CE / (C * batch)  -> (softmax - onehot) / (C*batch)
    The second is the study's normalization ("loss and initial delta divided by classes and batch").
    smoothing = e > 0 trains against (1 - e) onehot + e / C (label smoothing, Szegedy et al. 2016):
    the gradient is (softmax - target) / (c * batch); the returned loss stays the plain CE.

    A stack of K models (nn/stack.py) passes logits (K, batch, classes) and labels (K, batch) or
    (batch,) (shared by all K); every model's loss and gradient is then computed as alone.

    Args:
        logits: (batch, classes) float32/float64, or (K, batch, classes).
        labels: (batch,) int64 in [0, classes), or (K, batch).
        norm: "batch" or "classes_batch".
        need_loss: False skips the loss (the training step only needs the gradient).
    Returns:
        (loss, dlogits): loss a 0-d array ((K,) for a stack; no host sync) or None, dlogits like
        logits; `logits` itself is left unchanged.
    """
    xp = array_module(logits, labels)
    n, classes = logits.shape[-2:]
    lead = logits.shape[:-1]  # (batch,) or (K, batch)
    if labels.shape == lead[1:]:  # (batch,) read by a stack's K models: a copy each, in C
        labels = labels[None].repeat(lead[0], axis=0)
    elif labels.shape != lead:
        labels = xp.broadcast_to(labels, lead)
    # Entries (i, labels[i]) as flat indices: one 1-d gather instead of a 2-d fancy index.
    target = xp.arange(0, math.prod(lead) * classes, classes) + labels.ravel()
    shifted = logits - logits.max(axis=-1, keepdims=True)  # <= 0, so exp cannot overflow
    picked = shifted.ravel()[target].reshape(lead) if need_loss else None
    dlogits = xp.exp(shifted, out=shifted)
    total = dlogits.sum(axis=-1, keepdims=True)  # >= 1 (the max entry contributes exp(0))
    loss = (xp.log(total)[..., 0] - picked).mean(axis=-1) if need_loss else None
    scale = 1.0 / (n * _norm_factor(norm, classes))
    xp.divide(scale, total, out=total)
    dlogits *= total  # softmax * scale
    if smoothing:
        dlogits -= scale * smoothing / classes
        dlogits.ravel()[target] -= scale * (1.0 - smoothing)
    else:
        dlogits.ravel()[target] -= scale
    return loss, dlogits


def _norm_factor(norm: str, classes: int) -> int:
    if norm == "batch":
        return 1
    if norm == "classes_batch":
        return classes
    raise ConfigError(
        f"unknown loss normalization {norm!r}; expected one of {', '.join(LOSS_NORMS)}, "
        f"got {norm!r}"
    )


def objective_scale(norm: str, classes: int) -> float:
    """Factor that turns mean CE into the training objective (1 or 1/classes)."""
    return 1.0 / _norm_factor(norm, classes)
