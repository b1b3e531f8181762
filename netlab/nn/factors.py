"""The first layer's weight gradient at batch 1 as its two factors: dW1 = x.T @ dz, entry (i, j)
the product x[i] * dz[j]. An optimizer that fuses its update (SGD on the CPU: nn/fused_sgd.py)
forms each product where it needs it; any other writes them here first, as backward would.
"""

from __future__ import annotations

from .arrays import Array, array_module


def write_factors(grad_flat: Array, x: Array, dz: Array) -> None:
    """x.T @ dz into the first n_in * n1 entries of each row of grad_flat, the products
    layers.linear_backward writes. x (1, n_in) (a model alone, or a batch all of a stack's
    models read) or (K, 1, n_in); dz (1, n1) or (K, 1, n1)."""
    xt = x.swapaxes(-1, -2)
    if xt.ndim < dz.ndim:
        xt = xt[None]
    n_in, n1 = xt.shape[-2], dz.shape[-1]
    dW = grad_flat[..., : n_in * n1].reshape(*grad_flat.shape[:-1], n_in, n1)
    array_module(dz).multiply(xt, dz, out=dW)
