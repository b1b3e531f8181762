"""Hidden-layer activations: forward y = f(z) and backward dz = dy * f'(z), with f' written in y.

Writing f' in terms of the output y lets the forward overwrite z in place and keep only y.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backend import Array, array_module
from .errors import ConfigError

NAMES = ("tanh", "sigmoid", "relu", "leaky_relu")


@dataclass(frozen=True)
class Activation:
    """An elementwise activation.

    `forward(z)` may overwrite `z` and returns y (same shape and dtype).
    `backward(y, dy)` may overwrite `dy` and returns dz = dy * f'(z), where y = f(z).
    """

    name: str
    slope: float = 0.01  # leaky_relu only

    def forward(self, z: Array) -> Array:
        xp = array_module(z)
        if self.name == "tanh":
            return xp.tanh(z, out=z)
        if self.name == "sigmoid":
            # 0.5 * (tanh(z/2) + 1) equals 1 / (1 + exp(-z)) and never overflows.
            z *= 0.5
            xp.tanh(z, out=z)
            z += 1.0
            z *= 0.5
            return z
        if self.name == "relu":
            # z * (z > 0): faster than maximum(z, 0), which pays for NaN propagation.
            return xp.multiply(z, z > 0, out=z)
        # leaky_relu: max(z, slope*z) is z for z > 0 and slope*z otherwise (0 <= slope < 1).
        return xp.maximum(z, z * self.slope, out=z)

    def backward(self, y: Array, dy: Array) -> Array:
        xp = array_module(y, dy)
        if self.name == "tanh":
            t = xp.multiply(y, y)  # tanh' = 1 - y^2
            xp.subtract(1.0, t, out=t)
            dy *= t
            return dy
        if self.name == "sigmoid":
            t = xp.subtract(1.0, y)  # sigmoid' = y (1 - y)
            t *= y
            dy *= t
            return dy
        if self.name == "relu":
            xp.multiply(dy, y > 0, out=dy)
            return dy
        # leaky_relu: y > 0 exactly where z > 0 because slope >= 0.
        factor = xp.where(y > 0, y.dtype.type(1.0), y.dtype.type(self.slope))
        dy *= factor
        return dy


def get_activation(name: str, slope: float = 0.01) -> Activation:
    """The activation called `name` (one of NAMES); `slope` is leaky ReLU's negative slope."""
    if name not in NAMES:
        raise ConfigError(
            f"unknown activation {name!r}; expected one of {', '.join(NAMES)}, got {name!r}"
        )
    if not 0.0 <= slope < 1.0:
        raise ConfigError(f"leaky_slope must be in [0, 1); got {slope!r}")
    return Activation(name, float(slope))


def reference(name: str, z: Any, slope: float = 0.01) -> Any:
    """Plain-formula f(z) in NumPy float64, for tests and documentation."""
    import numpy as np

    z = np.asarray(z, dtype=np.float64)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    raise ConfigError(f"unknown activation {name!r}")
