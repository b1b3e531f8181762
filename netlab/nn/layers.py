"""Linear layers and the MLP that chains Linear + activation, with explicit forward and backward.

Parameters live as views into one flat buffer (weights first, then biases) and gradients as views
into a second one, so the optimizer updates everything with a few whole-buffer operations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from .activations import Activation, get_activation
from .arrays import Array, array_module
from .backend import Backend

INITS = ("normal", "xavier", "he")
MAX_WIDTH = 1_000_000
MAX_PARAMS = 2**31


def linear_forward(x: Array, W: Array, b: Array) -> Array:
    """y = x @ W + b.

    Shapes (the convention everywhere in netlab): x (batch, n_in), W (n_in, n_out), b (n_out,),
    y (batch, n_out). Backward: dW = x.T @ dy, db = dy.sum(0), dx = dy @ W.T.
    """
    y = x @ W
    y += b
    return y


def linear_backward(
    x: Array, W: Array, dy: Array, dW: Array, db: Array, need_dx: bool = True
) -> Array | None:
    """Write dW = x.T @ dy and db = dy.sum(0) into dW, db (overwriting); return dx = dy @ W.T.

    The input layer passes need_dx=False: nothing needs the gradient of the data, and skipping it
    saves a third of that layer's work.
    """
    xp = array_module(x, dy)
    if len(dy) == 1:
        # Batch 1 (the study's ReLU runs): the same products, without GEMM's k = 1 overhead
        # (a sum of one term is exact, so the result is bit-identical to the matmul below).
        xp.multiply(x.T, dy, out=dW)
        xp.copyto(db, dy[0])
    else:
        xp.matmul(x.T, dy, out=dW)
        # db = ones @ dy: a BLAS call, several times faster than a small axis-0 reduction.
        xp.matmul(xp.ones(len(dy), dtype=dy.dtype), dy, out=db)
    return dy @ W.T if need_dx else None


def init_linear(
    rng: np.random.Generator, n_in: int, n_out: int, init: str
) -> tuple[np.ndarray, np.ndarray]:
    """Host float64 (W, b) for one layer; draws W then b from `rng`.

    normal: W, b ~ N(0, 1) (the study's choice); xavier: W ~ U(+-sqrt(6/(n_in+n_out))), b = 0
    (Glorot & Bengio 2010); he: W ~ N(0, 2/n_in), b = 0 (He et al. 2015).
    """
    if init == "normal":
        return rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
    if init == "xavier":
        limit = math.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, (n_in, n_out)), np.zeros(n_out)
    if init == "he":
        return rng.normal(0.0, math.sqrt(2.0 / n_in), (n_in, n_out)), np.zeros(n_out)
    raise ConfigError(f"unknown init {init!r}; expected one of {', '.join(INITS)}, got {init!r}")


def parameter_shapes(sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Names and shapes in storage order: W1..WL, then b1..bL (layer l: sizes[l-1] -> sizes[l])."""
    n_layers = len(sizes) - 1
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(n_layers):
        shapes[f"W{i + 1}"] = (sizes[i], sizes[i + 1])
    for i in range(n_layers):
        shapes[f"b{i + 1}"] = (sizes[i + 1],)
    return shapes


def check_sizes(sizes: Sequence[int]) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ConfigError(f"layer sizes need at least an input and an output size; got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= MAX_WIDTH:
            raise ConfigError(f"layer sizes must be integers in [1, {MAX_WIDTH}]; got {sizes!r}")
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    if n_params > MAX_PARAMS:
        raise ConfigError(
            f"layer sizes {sizes} make {n_params} parameters; netlab supports at most 2**31"
        )
    return sizes


class MLP:
    """Linear -> activation -> ... -> Linear (logits); softmax lives in the loss.

    Attributes:
        sizes: [n_in, hidden..., n_classes].
        params: name -> array view ("W1", "b1", ...), the names used in model files.
        grads: name -> gradient view, same shapes; overwritten by every backward.
        flat, grad_flat: the buffers behind params and grads.
        n_weights: entries of `flat` that are weights (the first ones); the rest are biases.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "tanh",
        *,
        leaky_slope: float = 0.01,
        init: str = "xavier",
        rng: np.random.Generator | None = None,
        backend: Backend,
        state: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Draw the parameters from `rng` (on the host, so every backend starts identically),
        or take them from `state` (name -> host array), e.g. when loading a model file."""
        self.sizes = check_sizes(sizes)
        self.activation: Activation = get_activation(activation, leaky_slope)
        self.init = init
        self.backend = backend
        shapes = parameter_shapes(self.sizes)
        if state is None:
            if rng is None:
                raise ConfigError("MLP needs rng (to draw initial weights) or state (to load them)")
            state = {}
            for i in range(len(self.sizes) - 1):
                W, b = init_linear(rng, self.sizes[i], self.sizes[i + 1], init)
                state[f"W{i + 1}"], state[f"b{i + 1}"] = W, b
        self._allocate(shapes)
        self.load_state(state)

    @classmethod
    def on_buffers(
        cls, sizes: Sequence[int], activation: str, *, leaky_slope: float, init: str,
        backend: Backend, flat: Array, grad_flat: Array,
    ) -> MLP:  # fmt: skip
        """An MLP whose parameters and gradients are views into the given 1-d buffers (a row of
        a stack's, nn/stack.py), in the storage order of parameter_shapes; nothing is copied."""
        model = cls.__new__(cls)
        model.sizes = check_sizes(sizes)
        model.activation = get_activation(activation, leaky_slope)
        model.init, model.backend = init, backend
        model._allocate(parameter_shapes(model.sizes), (flat, grad_flat))
        return model

    def _allocate(
        self, shapes: dict[str, tuple[int, ...]], buffers: tuple[Array, Array] | None = None
    ) -> None:
        total = sum(math.prod(s) for s in shapes.values())
        try:
            if buffers is not None:
                self.flat, self.grad_flat = buffers
            else:
                self.flat = self.backend.zeros(total)
                self.grad_flat = self.backend.zeros(total)
        except MemoryError:
            gib = 2 * total * np.dtype(self.backend.dtype).itemsize / 2**30
            raise ConfigError(
                f"not enough memory for {total} parameters and their gradients ({gib:.1f} GiB); "
                "use smaller layers"
            ) from None
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        offset = 0
        self.n_weights = 0
        for name, shape in shapes.items():
            size = math.prod(shape)
            self.params[name] = self.flat[offset : offset + size].reshape(shape)
            self.grads[name] = self.grad_flat[offset : offset + size].reshape(shape)
            if name.startswith("W"):
                self.n_weights += size
            offset += size
        n_layers = len(self.sizes) - 1
        self._layers = [
            (self.params[f"W{i}"], self.params[f"b{i}"], self.grads[f"W{i}"], self.grads[f"b{i}"])
            for i in range(1, n_layers + 1)
        ]

    @property
    def n_params(self) -> int:
        return int(self.flat.size)

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy host arrays (name -> array of the right shape) into the parameters."""
        for name, view in self.params.items():
            view[...] = self.backend.asarray(arrays[name], dtype=self.backend.dtype)

    def state(self) -> dict[str, np.ndarray]:
        """Host copies of all parameters, by name."""
        return {name: self.backend.to_numpy(p) for name, p in self.params.items()}

    def forward(
        self,
        x: Array,
        need_input_grad: bool = False,
        *,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> tuple[Array, Callable]:
        """Logits for a batch, and the closure that backpropagates through this very forward.

        Args:
            x: (batch, sizes[0]) in the backend dtype; not modified.
            need_input_grad: whether backward should also return d/dx (gradient checks of inputs).
            dropout: training only: each hidden unit's output is zeroed with this probability and
                the kept ones are scaled by 1 / (1 - dropout) (inverted dropout, Srivastava et al.
                2014); the masks are drawn from `rng` on the host, so every backend draws the same.
            input_dropout: the same for the input features (its mask is drawn first).
        Returns:
            (logits (batch, sizes[-1]), backward). `backward(dlogits)` overwrites `self.grads`
            and returns dx or None. It may modify `dlogits` in place. At batch 1 without
            need_input_grad, `backward(dlogits, first_factors=True)` leaves the first layer's
            dW unwritten and returns its factors (x, dz), dW = x.T @ dz, for an optimizer that
            takes them (Optimizer.fuses: it forms each product where its update needs it).
        """
        act = self.activation
        inputs = []  # input of each Linear: x, then each hidden output (after dropout)
        saved = []  # what each hidden activation's backward needs: its output y, or its input z
        masks = []  # each hidden layer's dropout mask (0 or 1/keep), or None
        h = x
        if input_dropout and rng is not None:
            h = x * self._dropout_mask(x.shape, x.dtype, input_dropout, rng)
        last = len(self._layers) - 1
        for i, (W, b, _, _) in enumerate(self._layers):
            inputs.append(h)
            z = linear_forward(h, W, b)
            if i == last:
                h = z
                break
            if act.saves == "z":
                saved.append(z)
                y = act.forward(z)
            else:
                y = act.forward(z)  # may overwrite z
                saved.append(y)
            mask = None
            if dropout and rng is not None:
                mask = self._dropout_mask(y.shape, y.dtype, dropout, rng)
                h = y * mask
            else:
                h = y
            masks.append(mask)
        return h, self._backprop(inputs, saved, masks, need_input_grad)

    def _backprop(
        self,
        inputs: list[Array],
        saved: list[Array],
        masks: list[Array | None],
        need_input_grad: bool,
    ) -> Callable[..., Any]:
        """The backward of one forward, from what it kept: each Linear's input, what each hidden
        activation's backward needs, each hidden layer's dropout mask (or None)."""
        act = self.activation
        last = len(self._layers) - 1

        def backward(dlogits: Array, first_factors: bool = False) -> Any:
            dy = dlogits
            for i in range(last, -1, -1):
                W, _, dW, db = self._layers[i]
                if i == 0 and first_factors and len(dy) == 1 and not need_input_grad:
                    array_module(dy).copyto(db, dy[0])
                    return inputs[0], dy
                dx = linear_backward(inputs[i], W, dy, dW, db, need_dx=i > 0 or need_input_grad)
                if i == 0:
                    return dx
                if masks[i - 1] is not None:
                    dx *= masks[i - 1]  # d(y * mask)/dy = mask
                dy = act.backward(saved[i - 1], dx)
            return None

        return backward

    def _dropout_mask(
        self, shape: tuple[int, ...], dtype: Any, p: float, rng: np.random.Generator
    ) -> Array:
        """0 where a unit is dropped, 1 / (1 - p) where it is kept (drawn on the host)."""
        keep = rng.random(shape, dtype=np.float32) >= p
        mask = self.backend.asarray(keep, dtype=dtype)
        mask *= 1.0 / (1.0 - p)
        return mask

    def logits(self, x: Array) -> Array:
        """Forward only (evaluation): (batch, sizes[0]) -> (batch, sizes[-1])."""
        return self.forward(x)[0]
