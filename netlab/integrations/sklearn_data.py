"""What the scikit-learn estimator does to its data around netlab's training: the early-stopping
split, the exact power-of-two standardization of the inputs, and its folding into the first layer.
"""

from __future__ import annotations

import numpy as np


def validation_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) for early stopping: round(n_c * fraction) rows of each class
    c, and at least one row (from the largest class) where rounding leaves none."""
    from ..data.prepare import stratified_split

    if isinstance(fraction, bool) or not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1); got {fraction!r}")
    train, val = stratified_split(labels, fraction, rng)
    counts = np.bincount(labels)
    if len(val) == 0 and counts.max() >= 2:  # tiny data: every class keeps a training row
        pick = int(rng.choice(np.flatnonzero(labels == int(np.argmax(counts)))))
        train, val = train[train != pick], np.array([pick])
    if len(train) == 0 or len(val) == 0:
        raise ValueError(
            f"validation_fraction {fraction} leaves an empty split of {len(labels)} samples; "
            "use more samples, another validation_fraction or early_stopping=False"
        )
    return train, val


def power_of_two_standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per feature (shift, scale), float64 (n_features,): scale is the power of two nearest the
    feature's standard deviation (1 for a constant feature), shift its mean rounded to a multiple
    of scale.

    (x - shift) / scale has a mean within scale/2 of 0 and a standard deviation in [0.7, 1.4], so
    SGD's step size means the same for inputs of any scale (features of magnitude 100 make the
    default learning rate diverge). Dividing by a power of two is exact, and inputs that are
    already standardized get shift 0 and scale 1: they reach the network bit for bit unchanged.
    """
    mean, std = _column_stats(X)
    ok = np.isfinite(std) & (std > 0)
    scale = np.ones_like(std)
    scale[ok] = np.exp2(np.round(np.log2(std[ok])))
    shift = np.where(np.isfinite(mean), np.round(mean / scale) * scale, 0.0)
    return shift, scale


def _column_stats(X: np.ndarray, step: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column in float64, two passes over row chunks (no
    float64 copy of X)."""
    n = len(X)
    mean = sum(X[i : i + step].sum(0, dtype=np.float64) for i in range(0, n, step)) / n
    squares = sum(((X[i : i + step] - mean) ** 2).sum(0) for i in range(0, n, step))
    return mean, np.sqrt(squares / n)


def standardize_inplace(X: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> None:
    """X <- (X - shift) / scale in X's dtype (nothing changes where shift is 0 and scale 1)."""
    if shift.any():
        X -= shift.astype(X.dtype)  # k * 2**e: exact in float32 too
    if (scale != 1).any():
        X *= (1 / scale).astype(X.dtype)  # a power of two: exact


def fold_into_first_layer(
    W: np.ndarray, b: np.ndarray, shift: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The first layer on the raw inputs, float64: ((x - shift) / scale) @ W + b = x @ W' + b'
    with W' = W / scale[:, None] and b' = b - (shift / scale) @ W."""
    W = W.astype(np.float64)
    return W / scale[:, None], b.astype(np.float64) - (shift / scale) @ W
