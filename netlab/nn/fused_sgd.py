"""SGD's update as one loop over the parameters: the CPU's fused step (compiled by nn/compiled.py).

SGD.update (optimizers.py) makes five passes over the parameters with NumPy; this loop makes one,
each entry's arithmetic in the same order and dtype, so the numbers are the same bit for bit. At
batch 1 it also takes the first layer's weight gradient as its factors: entry (i, j) of dW1 is
x[i] * dz[j] (layers.linear_backward), a product the loop forms where it needs it, so the 784 x 50
gradient is never written and read back. Rows are models (a model alone is one row). A stack
takes it at every batch size: its K rows of parameters, gradients and velocity leave a core's
cache between NumPy's passes, and the loop streams them once.
"""

from __future__ import annotations

from .arrays import any_nonzero
from .compiled import jit


@jit
def _entry(w, v, g, lr, mu, l2x2, use_l2, use_mom, nesterov):
    """One parameter's SGD update from its gradient g: (w, v) after it."""
    if use_l2:
        g = g + l2x2 * w
    g = g * lr
    if not use_mom:
        return w - g, v
    v = v * mu - g
    if nesterov:
        return (w + mu * v) - g, v
    return w + v, v


@jit
def sgd_step(w, g, v, x, dz, lr, mu, l2x2, n_weights, use_l2, use_mom, nesterov):
    """Update w and v (K, P) in place.

    Args:
        w, g, v: (K, P) parameters, gradients, velocity; row k is model k's flat buffer.
        x, dz: the first layer's gradient factors, x (1 or K, n_in) and dz (K, n1): the first
            n_in * n1 entries of row k take x[k or 0, i] * dz[k, j] as their gradient, and g there
            is not read (zero-width arrays: g holds every gradient).
        lr, mu, l2x2: (K,) in w's dtype: learning rate, momentum and 2 * l2 of each row.
        n_weights: entries of a row that are weights (L2 applies to them only).
        use_l2, use_mom, nesterov: whether any row has L2, any row momentum, and Nesterov
            (SGD.update's branches, taken for all rows alike).
    """
    K, P = w.shape
    n_in, n1 = x.shape[1], dz.shape[1]
    first = n_in * n1
    for k in range(K):
        kx = k if x.shape[0] > 1 else 0
        a, m, c = lr[k], mu[k], l2x2[k]
        for i in range(n_in):
            xi = x[kx, i]
            for j in range(n1):
                e = i * n1 + j
                w[k, e], v[k, e] = _entry(w[k, e], v[k, e], xi * dz[k, j], a, m, c, use_l2,
                                          use_mom, nesterov)  # fmt: skip
        # The other weights, then the biases (no L2); 0-based indices into slices compile to
        # vector code.
        for lo, hi, l2 in ((first, n_weights, use_l2), (max(first, n_weights), P, False)):
            ws, vs, gs = w[k, lo:hi], v[k, lo:hi], g[k, lo:hi]
            for e in range(len(ws)):
                ws[e], vs[e] = _entry(ws[e], vs[e], gs[e], a, m, c, l2, use_mom, nesterov)


def fused_step(opt, factors=None) -> None:
    """SGD `opt`'s update (a model alone or a stack) in one call of `sgd_step`, from `factors`,
    (x, dz) of the first layer at batch 1 (nn/factors.py), and grad_flat for the rest; with no
    factors, every gradient from grad_flat."""
    w, g, v, *settings = _arguments(opt)
    if factors is None:  # zero-width factors: no entry takes its gradient from them
        x, dz = w[:1, :0], w[:, :0]
    else:
        x, dz = factors[0].reshape(-1, factors[0].shape[-1]), factors[1].reshape(len(w), -1)
    sgd_step(w, g, v, x, dz, *settings)


def _arguments(opt) -> tuple:
    """sgd_step's arguments but the factors, made again when an object they come from is
    replaced (a new epoch's learning rates, rows leaving the stack): the per-step work is the
    loop's alone."""
    held = (opt.flat, opt.grad_flat, opt.velocity, opt.lr, opt.momentum, opt.l2, opt.nesterov)
    key = tuple(map(id, held))  # `held` is kept with the arguments: these ids stay unique
    cached = opt.__dict__.get("_fused")
    if cached is None or cached[0] != key:
        w, g, v = (a.reshape(-1, a.shape[-1]) for a in held[:3])
        rows = [_per_row(opt, value, len(w)) for value in (opt.lr, opt.momentum, 2.0 * opt.l2)]
        args = (w, g, v, *rows, opt.n_weights, any_nonzero(opt.l2), any_nonzero(opt.momentum),
                bool(opt.nesterov))  # fmt: skip
        cached = opt._fused = (key, args, held)
    return cached[1]


def _per_row(opt, value, K: int):
    """A setting as (K,) in the parameters' dtype, rounded as where it meets them in SGD.update
    (Optimizer.c: a Python float is cast to that dtype, a stack's (K, 1) array too)."""
    import numpy as np

    cast = opt.c(value)
    if isinstance(cast, (int, float)):
        return np.full(K, cast, dtype=opt.flat.dtype)
    return cast.reshape(-1)
