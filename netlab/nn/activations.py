"""Hidden-layer activations: one registry entry each, holding everything any part of netlab needs.

An entry (a subclass of ActivationDef registered in ACTIVATIONS) defines
    forward(z, xp, slope) -> y            (may overwrite z when `saves` is "y")
    backward(s, dy, xp, slope) -> dz      dz = dy * f'(z), from s = y or z as `saves` declares;
                                          may overwrite dy
    reference(z, slope) -> y              a plain float64 NumPy formula (tests, docs)
    onnx(g, z, slope) -> name of y        its ONNX subgraph (g.node / g.const, see integrations)
    cuda                                  CudaCode for graph mode's GEMM epilogues, or None: graph
                                          mode then trains eagerly and says so
Writing f' in terms of y (tanh, sigmoid, the ReLUs) lets the forward overwrite z in place and keep
only y; GELU and SiLU need z. Importing this module does not import NumPy (CLI help lists it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..registry import Registry, Setting
from .arrays import Array, array_module


@dataclass(frozen=True)
class CudaCode:
    """C expressions for the CUDA epilogues, in the kernel's float type T: `forward` of the
    pre-activation `v`, `derivative` of the saved value `s` (y or z, per the entry's `saves`);
    `slope` is in scope. `helpers` holds extra __device__ functions the expressions call."""

    forward: str
    derivative: str
    helpers: str = ""


class ActivationDef:
    """One activation; subclass, define the methods, and register it in ACTIVATIONS."""

    name = ""
    summary = ""  # one line: the formula, for help texts and docs
    saves = "y"  # what backward needs: "y" (the output) or "z" (the pre-activation)
    uses_slope = False  # whether `slope` (leaky ReLU's negative slope) means anything
    settings: tuple[Setting, ...] = ()  # config fields of [model] it reads (schema.py)
    cuda: CudaCode | None = None

    def forward(self, z: Array, xp: Any, slope: float) -> Array:
        raise NotImplementedError

    def backward(self, s: Array, dy: Array, xp: Any, slope: float) -> Array:
        raise NotImplementedError

    def reference(self, z: Any, slope: float) -> Any:
        raise NotImplementedError

    def onnx(self, g: Any, z: str, slope: float) -> str:
        raise NotImplementedError


ACTIVATIONS: Registry[ActivationDef] = Registry("activation", instances=True)


@dataclass(frozen=True)
class Activation:
    """An activation bound to its settings: what layers call.

    `forward(z)` returns y (overwriting z when `saves == "y"`); `backward(s, dy)` returns
    dz = dy * f'(z) from s (y or z, as `saves` says), and may overwrite dy.
    """

    name: str
    slope: float = 0.01  # leaky_relu only
    definition: ActivationDef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "definition", ACTIVATIONS.get(self.name))

    @property
    def saves(self) -> str:
        return self.definition.saves

    def forward(self, z: Array) -> Array:
        return self.definition.forward(z, array_module(z), self.slope)

    def backward(self, s: Array, dy: Array) -> Array:
        return self.definition.backward(s, dy, array_module(s, dy), self.slope)


def get_activation(name: str, slope: float = 0.01) -> Activation:
    """The activation called `name` (a registered one); `slope` is leaky ReLU's negative slope."""
    ACTIVATIONS.get(name)  # ConfigError naming the known ones
    if isinstance(slope, bool) or not isinstance(slope, (int, float)) or not 0.0 <= slope < 1.0:
        raise ConfigError(f"leaky_slope must be in [0, 1); got {slope!r}")
    return Activation(name, float(slope))


def reference(name: str, z: Any, slope: float = 0.01) -> Any:
    """Plain-formula f(z) in NumPy float64, for tests and documentation."""
    import numpy as np

    return ACTIVATIONS.get(name).reference(np.asarray(z, dtype=np.float64), slope)


def _np() -> Any:
    import numpy

    return numpy


# --------------------------------------------------------------------------- the entries


@ACTIVATIONS.register("tanh")
class Tanh(ActivationDef):
    summary = "y = tanh z"
    cuda = CudaCode("tanh(v)", "((T)1 - s * s)")

    def forward(self, z, xp, slope):
        return xp.tanh(z, out=z)

    def backward(self, y, dy, xp, slope):
        t = xp.multiply(y, y)  # tanh' = 1 - y^2
        xp.subtract(1.0, t, out=t)
        dy *= t
        return dy

    def reference(self, z, slope):
        return _np().tanh(z)

    def onnx(self, g, z, slope):
        return g.node("Tanh", [z])


@ACTIVATIONS.register("sigmoid")
class Sigmoid(ActivationDef):
    summary = "y = 1 / (1 + exp(-z)), computed as (tanh(z/2) + 1) / 2"
    cuda = CudaCode("((T)0.5 * (tanh((T)0.5 * v) + (T)1))", "(s * ((T)1 - s))")

    def forward(self, z, xp, slope):
        # 0.5 * (tanh(z/2) + 1) equals 1 / (1 + exp(-z)) and never overflows.
        z *= 0.5
        xp.tanh(z, out=z)
        z += 1.0
        z *= 0.5
        return z

    def backward(self, y, dy, xp, slope):
        t = xp.subtract(1.0, y)  # sigmoid' = y (1 - y)
        t *= y
        dy *= t
        return dy

    def reference(self, z, slope):
        np = _np()
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))

    def onnx(self, g, z, slope):
        return g.node("Sigmoid", [z])


@ACTIVATIONS.register("relu")
class Relu(ActivationDef):
    summary = "y = max(z, 0)"
    # v * (v > 0), as the eager path: NaN and -inf give NaN (a ternary would give 0).
    cuda = CudaCode("(v * (T)(v > (T)0))", "(s > (T)0 ? (T)1 : (T)0)")

    def forward(self, z, xp, slope):
        # z * (z > 0): faster than maximum(z, 0), which pays for NaN propagation.
        return xp.multiply(z, z > 0, out=z)

    def backward(self, y, dy, xp, slope):
        xp.multiply(dy, y > 0, out=dy)
        return dy

    def reference(self, z, slope):
        return _np().where(z > 0, z, 0.0)

    def onnx(self, g, z, slope):
        return g.node("Relu", [z])


@ACTIVATIONS.register("leaky_relu")
class LeakyRelu(ActivationDef):
    summary = "y = z if z > 0 else slope * z (0 <= slope < 1, --leaky-slope)"
    uses_slope = True
    settings = (
        Setting("leaky_slope", 0.01, "negative slope (y = slope * z for z <= 0).", 0.0, 1.0,
                hi_open=True),
    )  # fmt: skip
    cuda = CudaCode("(v > slope * v ? v : slope * v)", "(s > (T)0 ? (T)1 : slope)")

    def forward(self, z, xp, slope):
        # max(z, slope*z) is z for z > 0 and slope*z otherwise (0 <= slope < 1).
        return xp.maximum(z, z * slope, out=z)

    def backward(self, y, dy, xp, slope):
        # y > 0 exactly where z > 0 because slope >= 0.
        factor = xp.where(y > 0, y.dtype.type(1.0), y.dtype.type(slope))
        dy *= factor
        return dy

    def reference(self, z, slope):
        return _np().where(z > 0, z, slope * z)

    def onnx(self, g, z, slope):
        return g.node("LeakyRelu", [z], alpha=float(slope))


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


@ACTIVATIONS.register("gelu")
class Gelu(ActivationDef):
    """GELU in its tanh form (Hendrycks & Gimpel 2016), as GPT-2 and BERT use it:
    y = z/2 (1 + tanh(u)), u = c (z + a z^3), c = sqrt(2/pi), a = 0.044715;
    y' = (1 + t)/2 + z/2 (1 - t^2) c (1 + 3 a z^2), t = tanh(u)."""

    summary = "y = z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))"
    saves = "z"
    cuda = CudaCode(
        "gelu_f(v)",
        "gelu_df(s)",
        helpers=(
            f"__device__ __forceinline__ T gelu_t(T z) {{ return tanh((T){_GELU_C!r} * "
            f"(z + (T){_GELU_A!r} * z * z * z)); }}\n"
            "__device__ __forceinline__ T gelu_f(T z) { return (T)0.5 * z * ((T)1 + gelu_t(z)); }\n"
            "__device__ __forceinline__ T gelu_df(T z) { const T t = gelu_t(z); "
            f"return (T)0.5 * ((T)1 + t) + (T)0.5 * z * ((T)1 - t * t) * (T){_GELU_C!r} * "
            f"((T)1 + (T){3 * _GELU_A!r} * z * z); }}\n"
        ),
    )

    def _t(self, z, xp):
        u = z * z
        u *= _GELU_A * z
        u += z
        u *= _GELU_C
        return xp.tanh(u, out=u)

    def forward(self, z, xp, slope):
        y = self._t(z, xp)
        y += 1.0
        y *= z
        y *= 0.5
        return y

    def backward(self, z, dy, xp, slope):
        t = self._t(z, xp)
        d = xp.multiply(t, t)
        xp.subtract(1.0, d, out=d)  # 1 - t^2
        d *= z
        z2 = z * z
        z2 *= 3.0 * _GELU_A
        z2 += 1.0
        d *= z2
        d *= 0.5 * _GELU_C
        t += 1.0
        t *= 0.5
        d += t
        dy *= d
        return dy

    def reference(self, z, slope):
        np = _np()
        return 0.5 * z * (1.0 + np.tanh(_GELU_C * (z + _GELU_A * z**3)))

    def onnx(self, g, z, slope):
        cube = g.node("Mul", [g.node("Mul", [z, z]), z])
        inner = g.node("Add", [z, g.node("Mul", [cube, g.const(_GELU_A)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.const(_GELU_C)])])
        return g.node("Mul", [g.node("Mul", [z, g.const(0.5)]), g.node("Add", [t, g.const(1.0)])])


@ACTIVATIONS.register("silu")
class Silu(ActivationDef):
    """SiLU / swish (Elfwing et al. 2018): y = z sigmoid(z); y' = s (1 + z (1 - s)), s =
    sigmoid(z), with the sigmoid computed through tanh so it never overflows."""

    summary = "y = z * sigmoid(z) (swish)"
    saves = "z"
    cuda = CudaCode(
        "(v * silu_s(v))",
        "silu_df(s)",
        helpers=(
            "__device__ __forceinline__ T silu_s(T z) {\n"
            "    return (T)0.5 * (tanh((T)0.5 * z) + (T)1);\n}\n"
            "__device__ __forceinline__ T silu_df(T z) { const T q = silu_s(z); "
            "return q * ((T)1 + z * ((T)1 - q)); }\n"
        ),
    )

    def _sigmoid(self, z, xp):
        q = xp.multiply(z, 0.5)
        xp.tanh(q, out=q)
        q += 1.0
        q *= 0.5
        return q

    def forward(self, z, xp, slope):
        q = self._sigmoid(z, xp)
        q *= z
        return q

    def backward(self, z, dy, xp, slope):
        q = self._sigmoid(z, xp)
        d = xp.subtract(1.0, q)
        d *= z
        d += 1.0
        d *= q
        dy *= d
        return dy

    def reference(self, z, slope):
        np = _np()
        with np.errstate(over="ignore"):
            return z / (1.0 + np.exp(-z))

    def onnx(self, g, z, slope):
        return g.node("Mul", [z, g.node("Sigmoid", [z])])
