"""The two sides of a gradient check, in float64: backprop's gradients of the training objective,
and its central differences (f(w+e) - f(w-e)) / 2e, one parameter entry at a time."""

from __future__ import annotations

import math

import numpy as np

from ..errors import GradcheckError
from ..nn.arrays import Array
from ..nn.layers import MLP
from ..nn.losses import objective_scale, softmax_cross_entropy

# Rounding of the float64 objective, in units in its last place: its dot products sum in an order
# that depends on the BLAS kernel (an AMD EPYC and an Intel Xeon gave central differences 2e-13
# apart at eps 1e-2, about 2 ulps of the loss); 16 ulps is the resolution a difference is read to.
ROUNDING_ULPS = 16


def objective(
    model: MLP, x: Array, labels: Array, loss_norm: str = "batch", l2: float = 0.0
) -> float:
    """The training objective: scaled mean cross-entropy + l2 * sum of squared weights."""
    loss, _ = softmax_cross_entropy(model.logits(x), labels, loss_norm)
    value = model.backend.to_float(loss) * objective_scale(loss_norm, model.sizes[-1])
    if l2:
        w = model.flat[: model.n_weights]
        value += l2 * model.backend.to_float((w * w).sum())
    return value


def analytic_gradients(
    model: MLP, x: Array, labels: Array, loss_norm: str = "batch", l2: float = 0.0
) -> dict[str, np.ndarray]:
    """Backprop gradients of `objective`, including the L2 term 2*l2*W on weights, on the host."""
    logits, backward = model.forward(x)
    _, dlogits = softmax_cross_entropy(logits, labels, loss_norm)
    backward(dlogits)
    grads = {}
    for name, g in model.grads.items():
        g = model.backend.to_numpy(g).copy()
        if l2 and name.startswith("W"):
            g += 2.0 * l2 * model.backend.to_numpy(model.params[name])
        grads[name] = g
    return grads


def numeric_derivative(
    model: MLP,
    name: str,
    index: tuple[int, ...],
    x: Array,
    labels: Array,
    eps: float,
    loss_norm: str,
    l2: float,
) -> float:
    """Central difference of the objective with respect to one parameter entry (restored after)."""
    return central_difference(model, name, index, x, labels, eps, loss_norm, l2)[0]


def central_difference(
    model: MLP,
    name: str,
    index: tuple[int, ...],
    x: Array,
    labels: Array,
    eps: float,
    loss_norm: str,
    l2: float,
) -> tuple[float, float]:
    """(f(p + eps) - f(p - eps)) / (2 eps) for one entry, and its rounding resolution: ROUNDING_ULPS
    units in the last place of f, divided by 2 eps. Digits of the derivative below the resolution
    are rounding, which differs between CPUs and BLAS kernels (other summation orders)."""
    p = model.params[name]
    original = p[index].copy()
    try:
        p[index] = original + eps
        f_plus = objective(model, x, labels, loss_norm, l2)
        p[index] = original - eps
        f_minus = objective(model, x, labels, loss_norm, l2)
    finally:
        p[index] = original
    ulp = math.ulp(max(abs(f_plus), abs(f_minus)))
    return (f_plus - f_minus) / (2.0 * eps), ROUNDING_ULPS * ulp / (2.0 * eps)


def check_settings(model: MLP, eps: float, max_entries: int = 0, l2: float = 0.0) -> None:
    """A GradcheckError for a step, L2 strength or entry count that cannot work, or a model that
    is not float64."""
    if not (eps > 0 and math.isfinite(eps)):
        raise GradcheckError(f"epsilon must be a finite number > 0; got {eps!r}")
    if not (l2 >= 0 and math.isfinite(l2)):
        raise GradcheckError(f"l2 must be a finite number >= 0; got {l2!r}")
    if max_entries < 0:
        raise GradcheckError(f"max_entries must be >= 0 (0 checks all); got {max_entries!r}")
    require_float64(model)


def require_float64(model: MLP) -> None:
    if model.backend.dtype != np.float64:
        raise GradcheckError(
            f"gradient checks need float64, the model is {model.backend.dtype}; "
            'use get_backend(device, dtype="float64") (the CLI always does)'
        )
