"""Optimizers, one registry entry each: an update of a model's flat parameter buffer, in place.

An optimizer owns its state as named buffers (`state`, each shaped like the parameters) plus a
step counter (`steps`), so checkpoints save and restore any optimizer the same way. Each entry
declares its default learning rate, its settings (`settings`: registry.Setting, each a config
field with its default, range and help; the schema, TrainingConfig, train's flags and
docs/config.md follow from them), and the source of its CUDA update kernel (`cuda`, see
cuda/kernels.py), or None to train eagerly in graph mode.
Regularization follows the study where it is called L2 (the gradient gets + 2*l2*W, weights only);
AdamW's weight decay is decoupled (Loshchilov & Hutter 2019), also on the weights only.
Importing this module does not import NumPy (CLI help lists it).

The CUDA contract (graph mode, cuda/graph.py): `cuda` defines, for the float type T,

    extern "C" __global__ void update(T* w, T* g, T* s0, T* s1, const double* lr,
        const long long* t0, long long step, long long n_weights, long long n,
        double h0, double h1, double h2, double h3, double h4, double h5)

over n parameters (the first n_weights are weights): g the gradients (scratch), s0, s1 the state
buffers in `buffers` order, lr and t0 (steps taken before the captured epoch) in device memory,
step this update's 1-based index within the epoch, h0..h5 the values of `cuda_args()`. It must
round like the NumPy update: a Python float meeting a T array is cast to T first.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..errors import ConfigError
from ..registry import Registry, Setting
from .arrays import Array, any_nonzero, array_module
from .row_blocks import row_blocks

OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")


def _check(name: str, value: Any, normalized: Any, expected: str) -> Any:
    if normalized is None:
        raise ConfigError(f"{name} must be {expected}; got {value!r}")
    return normalized


_UNIT = {"lo": 0.0, "hi": 1.0, "hi_open": True}
L2 = Setting("l2", 0.0, "L2 strength; the gradient gets + 2*l2*W (weights only).", lo=0.0)
BETA1 = Setting("beta1", 0.9, "beta1.", **_UNIT)
BETA2 = Setting("beta2", 0.999, "beta2.", **_UNIT)
EPS = Setting("eps", 1e-8, "eps.", lo=0.0, hi=1.0, lo_open=True)


class Optimizer:
    """Base class. flat: all parameters, one contiguous array whose first `n_weights` entries are
    weights (the rest biases); grad_flat: their gradients, read (and used as scratch) by step().

    Subclasses set `default_lr`, `settings` (what they read: each becomes an attribute, checked
    against its declared range; `hyper` maps their names to their defaults), `buffers` (names of
    their state arrays) and implement `update(g)`.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    default_lr: ClassVar[float] = 0.01
    settings: ClassVar[tuple[Setting, ...]] = ()
    hyper: ClassVar[dict[str, Any]] = {}  # name -> declared default, from `settings`
    buffers: ClassVar[tuple[str, ...]] = ()
    cuda: ClassVar[str | None] = None  # CUDA source of `<name>_update`, or None: eager only
    # Whether update() also runs on a stack's (K, P) buffers with (K, 1) settings (nn/stack.py):
    # it reads parameters as flat[..., :n_weights], passes every setting through c(), and uses
    # any_nonzero()/_sqrt() for truth and square roots; each row from that row alone
    # (nn/row_blocks.py).
    stackable: ClassVar[bool] = False

    def __init__(
        self, flat: Array, grad_flat: Array, n_weights: int, *, lr: float, backend: Any, **hyper
    ) -> None:
        self._configure(lr, hyper)
        self._setup(flat, grad_flat, n_weights, backend)

    def _configure(self, lr: Any, hyper: dict[str, Any]) -> None:
        """Check lr and the settings (each against its declared range) and set them."""
        ok = not isinstance(lr, bool) and isinstance(lr, (int, float)) and lr > 0
        self.lr = _check("learning rate", lr, float(lr) if ok else None, "> 0")
        unknown = set(hyper) - set(self.hyper)
        if unknown:
            raise ConfigError(
                f"{self.name} takes no {', '.join(sorted(unknown))}; its settings are "
                f"{', '.join(self.hyper) or 'lr only'}"
            )
        declared = {s.name: s for s in self.settings}
        for key, default in self.hyper.items():
            value = hyper.get(key, default)
            if key in declared:
                value = _check(key, value, declared[key].check(value), declared[key].expected())
            setattr(self, key, value)
        self.validate()

    def _setup(self, flat: Array, grad_flat: Array, n_weights: int, backend: Any) -> None:
        self.flat, self.grad_flat, self.n_weights = flat, grad_flat, n_weights
        self.backend = backend
        self.state: dict[str, Array] = {name: backend.zeros(flat.shape) for name in self.buffers}
        self.steps = 0

    def c(self, value: Any) -> Any:
        """A hyperparameter (or an expression of them) where it meets the parameters: a Python
        number as it is (NumPy and CuPy cast it to the parameters' dtype); a stack's (K, 1) array
        cast to that dtype on the backend, so each row rounds as that model alone would."""
        if isinstance(value, (int, float)):
            return value
        key = value.tobytes()  # the same values every step (but Adam's bias corrections)
        cache = self.__dict__.setdefault("_cast", {})
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = self.backend.asarray(value, dtype=self.flat.dtype)
        return cache[key]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "settings" in cls.__dict__:
            cls.hyper = {s.name: s.default for s in cls.settings}

    def validate(self) -> None:
        """Checks beyond each setting's declared range (ConfigError naming the bad one)."""

    def cuda_args(self) -> tuple[float, ...]:
        """h0..h5 of the CUDA update kernel."""
        return (0.0,) * 6

    # Whether the update has a fused CPU loop at batch 1 (step() from the factors, with Numba).
    fused_cpu: ClassVar[bool] = False

    def fuses(self, batch_size: int) -> bool:
        """Whether step() should get the first layer's weight gradient as its factors (x, dz),
        not written by backward (MLP.forward: first_factors=True), at this batch size: at batch
        1, where the update is most of a step, on a CPU with Numba (no load elsewhere)."""
        return self.fused_cpu and batch_size == 1 and self.backend.compiled_loops

    def step(self, factors: tuple[Array, Array] | None = None) -> None:
        """One in-place update from the gradients currently in grad_flat (which it may
        overwrite), the first layer's weight gradient given as `factors` (x, dz) where they are
        not None."""
        self.steps += 1
        if factors is not None:
            from .factors import write_factors

            write_factors(self.grad_flat, *factors)
        for part in row_blocks(self):  # [self], or blocks of a stack's rows (nn/row_blocks.py)
            part.update(part.grad_flat)

    def update(self, g: Array) -> None:
        raise NotImplementedError

    def add_l2(self, g: Array, l2: Any) -> None:
        """g += 2 * l2 * w on the weights: the gradient of l2 * sum(w^2) (the study's L2)."""
        if any_nonzero(l2):
            gw = g[..., : self.n_weights]
            gw += self.c(2.0 * l2) * self.flat[..., : self.n_weights]


def _sqrt(value: Any) -> Any:
    return math.sqrt(value) if isinstance(value, (int, float)) else value**0.5


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """SGD with classical (or Nesterov) momentum and the study's L2 term:
    g <- g + 2 * l2 * w                  (weights only)
    v <- momentum * v - lr * g
    w <- w + v                           (classical)
    w <- w + momentum * v - lr * g       (Nesterov, in the Sutskever et al. 2013 form)
    """

    summary = "SGD with classical or Nesterov momentum and L2 (the study's)"
    default_lr = 0.012
    settings = (
        Setting("momentum", 0.9, "momentum (0 = none).", **_UNIT),
        Setting("nesterov", False, "Nesterov momentum."),
        L2,
    )
    buffers = ("velocity",)
    stackable = True
    fused_cpu = True  # nn/fused_sgd.py

    cuda = r"""
extern "C" __global__ void update(T* __restrict__ w, T* __restrict__ g, T* __restrict__ v,
    T* __restrict__ unused, const double* __restrict__ lr, const long long* __restrict__ t0,
    long long step, long long n_weights, long long n, double momentum, double l2x2,
    double nesterov, double h3, double h4, double h5)
{
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    const T mu = (T)momentum;
    T gi = g[i];
    if (i < n_weights) gi = gi + (T)l2x2 * w[i];
    gi = gi * (T)lr[0];
    if (momentum == 0.0) { w[i] = w[i] - gi; return; }
    const T vi = v[i] * mu - gi;
    v[i] = vi;
    if (nesterov != 0.0) { const T t = w[i] + mu * vi; w[i] = t - gi; }
    else w[i] = w[i] + vi;
}
"""

    def cuda_args(self) -> tuple[float, ...]:
        return (self.momentum, 2.0 * self.l2, float(self.nesterov), 0.0, 0.0, 0.0)

    @property
    def velocity(self) -> Array:
        return self.state["velocity"]

    def step(self, factors: tuple[Array, Array] | None = None) -> None:
        # update()'s numbers in one pass (nn/fused_sgd.py), where Numba is: at batch 1 from the
        # factors, and for a stack at any batch (its rows leave a core's cache between NumPy's
        # passes); a model alone at larger batches keeps the passes and never loads Numba.
        if (factors is None and self.flat.ndim == 1) or not self.backend.compiled_loops:
            return super().step(factors)
        from .fused_sgd import fused_step

        self.steps += 1
        return fused_step(self, factors)

    def update(self, g: Array) -> None:
        v = self.state["velocity"]
        self.add_l2(g, self.l2)
        g *= self.c(self.lr)  # g now holds lr * g
        # In a stack, a model with momentum 0 takes this branch too: v = 0 * v - g = -g, and
        # w + (-g) is w - g exactly.
        if any_nonzero(self.momentum):
            mu = self.c(self.momentum)
            v *= mu
            v -= g
            if self.nesterov:
                self.flat += mu * v
                self.flat -= g
            else:
                self.flat += v
        else:
            self.flat -= g


class _AdamBase(Optimizer):
    """Adam (Kingma & Ba 2015) in PyTorch's arithmetic, step t = 1, 2, ...:
    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2
    w <- w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    default_lr = 1e-3
    buffers = ("m", "v")
    stackable = True
    decoupled = False  # AdamW: weight decay applied to w, not added to g
    _CUDA = r"""
extern "C" __global__ void update(T* __restrict__ w, T* __restrict__ g, T* __restrict__ m,
    T* __restrict__ v, const double* __restrict__ lr, const long long* __restrict__ t0,
    long long step, long long n_weights, long long n, double beta1, double beta2, double eps,
    double l2x2, double decay, double h5)
{
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    const double t = (double)(t0[0] + step);
    T gi = g[i];
    if (i < n_weights) {
        if (DECOUPLED) w[i] = w[i] * (T)(1.0 - lr[0] * decay);
        else gi = gi + (T)l2x2 * w[i];
    }
    const T mi = m[i] * (T)beta1 + (T)(1.0 - beta1) * gi;
    const T g2 = gi * gi * (T)(1.0 - beta2);
    const T vi = v[i] * (T)beta2 + g2;
    m[i] = mi;
    v[i] = vi;
    const T denom = sqrt(vi) * (T)(1.0 / sqrt(1.0 - pow(beta2, t))) + (T)eps;
    w[i] = w[i] - (mi / denom) * (T)(lr[0] / (1.0 - pow(beta1, t)));
}
"""

    def adam_update(self, g: Array) -> None:
        m, v, t, c = self.state["m"], self.state["v"], self.steps, self.c
        m *= c(self.beta1)
        m += c(1.0 - self.beta1) * g
        v *= c(self.beta2)
        g *= g
        g *= c(1.0 - self.beta2)
        v += g
        xp = array_module(g)
        denom = xp.sqrt(v, out=g)  # g is no longer needed: it holds sqrt(v)/sqrt(bc2) + eps
        denom *= c(1.0 / _sqrt(1.0 - self.beta2**t))
        denom += c(self.eps)
        xp.divide(m, denom, out=denom)  # then m / denom, then times the step: no temporary
        denom *= c(self.lr / (1.0 - self.beta1**t))
        self.flat -= denom


@OPTIMIZERS.register("adam")
class Adam(_AdamBase):
    summary = "Adam with L2 added to the gradient (like the study's 2*l2*W)"
    settings = (BETA1, BETA2, EPS, L2)
    cuda = "#define DECOUPLED 0\n" + _AdamBase._CUDA

    def cuda_args(self) -> tuple[float, ...]:
        return (self.beta1, self.beta2, self.eps, 2.0 * self.l2, 0.0, 0.0)

    def update(self, g: Array) -> None:
        self.add_l2(g, self.l2)
        self.adam_update(g)


@OPTIMIZERS.register("adamw")
class AdamW(_AdamBase):
    summary = "Adam with decoupled weight decay: w <- w - lr * weight_decay * w (weights only)"
    settings = (
        BETA1,
        BETA2,
        EPS,
        Setting("weight_decay", 0.01, "decoupled weight decay (weights only).", lo=0.0),
    )
    cuda = "#define DECOUPLED 1\n" + _AdamBase._CUDA

    def cuda_args(self) -> tuple[float, ...]:
        return (self.beta1, self.beta2, self.eps, 0.0, self.weight_decay, 0.0)

    def update(self, g: Array) -> None:
        if any_nonzero(self.weight_decay):
            w = self.flat[..., : self.n_weights]
            w *= self.c(1.0 - self.lr * self.weight_decay)
        self.adam_update(g)


def make_optimizer(name: str, model: Any, lr: float | None, settings: dict[str, Any]) -> Optimizer:
    """The optimizer `name` for `model`'s parameters: lr None takes the optimizer's default, and
    of `settings` (field -> value, e.g. a config's training fields) it reads its own; a setting
    missing or None there takes the optimizer's declared default."""
    cls = OPTIMIZERS.get(name)
    hyper = optimizer_settings(name, settings)
    return cls(
        model.flat,
        model.grad_flat,
        model.n_weights,
        lr=cls.default_lr if lr is None else lr,
        backend=model.backend,
        **hyper,
    )


def optimizer_settings(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Of `settings` (field -> value), the ones optimizer `name` reads and that are set (not
    None); the others take its declared defaults."""
    return {k: settings[k] for k in OPTIMIZERS.get(name).hyper if settings.get(k) is not None}
