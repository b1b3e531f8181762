"""A stack: K MLPs of the same layer sizes and activation, trained as one computation.

The parameters live in one (K, P) buffer whose row k is model k's flat buffer exactly as a model
alone lays it out (nn/layers.py: W1..WL, then b1..bL), and the gradients in a second one; so
`member(k)` is an MLP viewing row k (evaluation, model files and exports use it unchanged), and the
optimizers update all K rows with the same few whole-buffer operations (optimizers.py: `stacked`).

Forward and backward are written once, with a leading model axis. Layer l of model k:

    z[k] = h[k] @ W[k] + b[k]         h (K, B, n_in), W (K, n_in, n_out), b (K, n_out)
    dW[k] = h[k].T @ dz[k],  db[k] = sum over the batch of dz[k],  dh[k] = dz[k] @ W[k].T

each one batched matmul for the K models (NumPy loops over k in C; CuPy calls cuBLAS's
strided-batched GEMM). When the K models read the same batch (the same data, the same batch
order: a sweep of one seed), the input x (B, n_in) is shared and the first layer, most of the
work, is one GEMM against the models' first-layer weights side by side, and its weight gradient
another:

    [z[0] | z[1] | ...] = x @ [W1[0] | W1[1] | ...]        (B, K * n1)
    [dW1[0] | dW1[1] | ...] = x.T @ [dz[0] | dz[1] | ...]    (n_in, K * n1)

Each model's numbers are those of the model alone up to the rounding of differently blocked GEMMs
(tests/nn/test_stack.py states the tolerance); with batch 1 the weight gradients are products of
one term each, exactly as alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from .activations import Activation, get_activation
from .arrays import Array
from .backend import Backend
from .layers import MLP, check_sizes, parameter_shapes
from .optimizers import OPTIMIZERS, Optimizer

# Batches of at least this many rows take the shared first layer as one GEMM against the K weight
# matrices side by side (copying them costs less than the GEMM gains); smaller ones, one batched
# matmul that broadcasts x.
SIDE_BY_SIDE = 32


class MLPStack:
    """K MLPs of one architecture as one (K, P) parameter buffer.

    Attributes:
        sizes, activation: shared by the K models.
        K: the number of models.
        inits: each model's weight init (what its model file records).
        flat, grad_flat: (K, P); row k is model k's flat buffer (and its gradients).
        params, grads: name -> (K, *shape) views ("W1": (K, n_in, n1), "b1": (K, n1), ...).
        n_weights: entries of each row that are weights (the first ones).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str,
        states: Sequence[dict[str, np.ndarray]],
        *,
        leaky_slope: float = 0.01,
        inits: Sequence[str] | None = None,
        backend: Backend,
    ) -> None:
        """Take the K models' initial parameters from `states` (name -> host array each, e.g.
        `MLP(...).state()` of each model as it would start alone)."""
        self.sizes = check_sizes(sizes)
        self.activation: Activation = get_activation(activation, leaky_slope)
        self.backend = backend
        self.K = len(states)
        self.inits = list(inits) if inits is not None else ["xavier"] * self.K
        total = sum(math.prod(s) for s in parameter_shapes(self.sizes).values())
        self._views(backend.zeros((self.K, total)), backend.zeros((self.K, total)))
        for k, state in enumerate(states):
            self.member(k).load_state(state)

    def _views(self, flat: Array, grad_flat: Array) -> None:
        """Take (K, P) buffers and make the per-layer (K, ...) views into them."""
        self.flat, self.grad_flat = flat, grad_flat
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        offset, self.n_weights = 0, 0
        for name, shape in parameter_shapes(self.sizes).items():
            size = math.prod(shape)
            self.params[name] = flat[:, offset : offset + size].reshape(self.K, *shape)
            self.grads[name] = grad_flat[:, offset : offset + size].reshape(self.K, *shape)
            if name.startswith("W"):
                self.n_weights += size
            offset += size
        n_layers = len(self.sizes) - 1
        self._layers = [
            (self.params[f"W{i}"], self.params[f"b{i}"], self.grads[f"W{i}"], self.grads[f"b{i}"])
            for i in range(1, n_layers + 1)
        ]

    def member(self, k: int) -> MLP:
        """Model k as an MLP viewing row k of the stack's buffers (nothing copied)."""
        return MLP.on_buffers(self.sizes, self.activation.name, leaky_slope=self.activation.slope,
                              init=self.inits[k], backend=self.backend, flat=self.flat[k],
                              grad_flat=self.grad_flat[k])  # fmt: skip

    def forward(
        self,
        x: Array,
        *,
        dropout: Sequence[float] | None = None,
        input_dropout: Sequence[float] | None = None,
        rngs: Sequence[np.random.Generator] | None = None,
    ) -> tuple[Array, Callable[[Array], None]]:
        """Logits (K, B, classes) for a batch, and the closure that backpropagates through it.

        Args:
            x: (B, sizes[0]), one batch all K models read, or (K, B, sizes[0]), one per model.
            dropout, input_dropout: each model's probabilities (K values), training only; model
                k's masks are drawn from rngs[k] in the order, shapes and dtype that model alone
                draws them (MLP.forward), and not at all where its probability is 0.
        Returns:
            (logits, backward): backward(dlogits) overwrites `grads` (and may modify dlogits);
            at batch 1, backward(dlogits, first_factors=True) leaves the first layer's dW
            unwritten and returns its factors (x, dz) as MLP.forward's backward does.
        """
        act, xp = self.activation, self.backend.xp
        inputs, saved, masks = [], [], []
        h = x
        if input_dropout is not None and rngs is not None and any(input_dropout):
            h = x * self._dropout_masks(x.shape[-2:], x.dtype, input_dropout, rngs)
        last = len(self._layers) - 1
        for i, (W, b, _, _) in enumerate(self._layers):
            inputs.append(h)
            z = self._shared_first(h, W) if h.ndim == 2 else xp.matmul(h, W)
            z += b[:, None, :]
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
            if dropout is not None and rngs is not None and any(dropout):
                mask = self._dropout_masks(y.shape[1:], y.dtype, dropout, rngs)
                h = y * mask
            else:
                h = y
            masks.append(mask)
        return h, self._backprop(inputs, saved, masks)

    def logits(self, x: Array) -> Array:
        """Forward only (evaluation): (B, sizes[0]) read by all K models -> (K, B, sizes[-1])."""
        act, xp = self.activation, self.backend.xp
        h = x
        last = len(self._layers) - 1
        for i, (W, b, _, _) in enumerate(self._layers):
            z = self._shared_first(h, W) if h.ndim == 2 else xp.matmul(h, W)
            z += b[:, None, :]
            h = z if i == last else act.forward(z)
        return h

    def _backprop(self, inputs: list, saved: list, masks: list) -> Callable[..., Any]:
        act = self.activation
        last = len(self._layers) - 1

        def backward(dlogits: Array, first_factors: bool = False) -> Any:
            dy = dlogits
            for i in range(last, -1, -1):
                W, _, dW, db = self._layers[i]
                if i == 0 and first_factors and dy.shape[1] == 1:
                    self.backend.xp.copyto(db, dy[:, 0])
                    return inputs[0], dy
                if inputs[i].ndim == 2:  # the shared input batch (first layer only)
                    self._shared_first_backward(inputs[i], dy, dW, db)
                    return
                dx = stacked_linear_backward(inputs[i], W, dy, dW, db, need_dx=i > 0)
                if i == 0:
                    return
                if masks[i - 1] is not None:
                    dx *= masks[i - 1]
                dy = act.backward(saved[i - 1], dx)

        return backward

    def _shared_first(self, x: Array, W: Array) -> Array:
        """z (K, B, n1) of the first layer for a batch x (B, n_in) that all K models read: one
        GEMM against the K weight matrices side by side."""
        xp = self.backend.xp
        K, n_in, n1 = W.shape
        if len(x) < SIDE_BY_SIDE:  # a few rows: K matrix-vector products beat copying W
            return xp.matmul(x, W)
        side = xp.ascontiguousarray(W.transpose(1, 0, 2)).reshape(n_in, K * n1)
        z = x @ side  # (B, K * n1)
        return xp.ascontiguousarray(z.reshape(len(x), K, n1).transpose(1, 0, 2))

    def _shared_first_backward(self, x: Array, dz: Array, dW: Array, db: Array) -> None:
        """dW1 (K, n_in, n1) and db1 of the shared-input first layer; no dx (it is the data)."""
        xp = self.backend.xp
        K, B, n1 = dz.shape
        if B == 1:  # products of one term: exactly the model alone's (layers.linear_backward)
            xp.multiply(x.T[None], dz, out=dW)
            xp.copyto(db, dz[:, 0])
            return
        side = xp.ascontiguousarray(dz.transpose(1, 0, 2)).reshape(B, K * n1)
        g = x.T @ side  # (n_in, K * n1)
        xp.copyto(dW, g.reshape(len(x.T), K, n1).transpose(1, 0, 2))
        xp.matmul(xp.ones(B, dtype=dz.dtype), dz, out=db)

    def _dropout_masks(
        self, shape: tuple[int, ...], dtype, ps: Sequence[float], rngs: Sequence
    ) -> Array:
        """(K, *shape) masks: 0 where a unit is dropped, 1 / (1 - p_k) where kept; drawn on the
        host from each model's generator as that model alone draws them (none where p_k = 0)."""
        keep = np.ones((self.K, *shape), dtype=bool)
        for k, p in enumerate(ps):
            if p:
                keep[k] = rngs[k].random(shape, dtype=np.float32) >= p
        mask = self.backend.asarray(keep, dtype=dtype)
        scale = np.array([1.0 / (1.0 - p) for p in ps]).reshape(-1, *(1,) * len(shape))
        mask *= self.backend.asarray(scale, dtype=dtype)
        return mask

    def select(self, keep: Sequence[int]) -> MLPStack:
        """A new stack of the models `keep` (indices into this one), their parameters copied."""
        new = MLPStack.__new__(MLPStack)
        new.__dict__.update(self.__dict__)
        new.K, new.inits = len(keep), [self.inits[k] for k in keep]
        rows = self.backend.asarray(np.asarray(keep, dtype=np.int64))
        new._views(self.flat[rows], self.grad_flat[rows])
        return new


def stacked_linear_backward(
    x: Array, W: Array, dy: Array, dW: Array, db: Array, need_dx: bool = True
) -> Array | None:
    """The stack's layers.linear_backward: dW = x.T @ dy and db = ones @ dy per model into dW, db;
    returns dx = dy @ W.T per model. x (K, B, n_in), W (K, n_in, n_out), dy (K, B, n_out)."""
    from .arrays import array_module

    xp = array_module(x, dy)
    if dy.shape[1] == 1:  # batch 1: a sum of one term, exactly as alone
        xp.multiply(x.transpose(0, 2, 1), dy, out=dW)
        xp.copyto(db, dy[:, 0])
    else:
        xp.matmul(x.transpose(0, 2, 1), dy, out=dW)
        xp.matmul(xp.ones(dy.shape[1], dtype=dy.dtype), dy, out=db)
    return xp.matmul(dy, W.transpose(0, 2, 1)) if need_dx else None


def stacked_optimizer(
    name: str, stack: MLPStack, lrs: Sequence[float], settings: Sequence[dict[str, Any]]
) -> Optimizer:
    """Optimizer `name` over a stack's (K, P) buffers, each row one model's. Each model's lr and
    settings are checked as for a model alone; numbers become (K, 1) float64 arrays (the update
    passes them through Optimizer.c(), which casts them to the parameters' dtype where they meet
    the parameters, as a Python float is cast alone), and a true-or-false setting must be the
    same for all K (ConfigError otherwise)."""
    cls = OPTIMIZERS.get(name)
    if not cls.stackable:
        raise ConfigError(f"optimizer {name!r} does not train in stacks; train it alone")
    solos = []
    for lr, hyper in zip(lrs, settings, strict=True):
        solo = cls.__new__(cls)
        solo._configure(lr, hyper)
        solos.append(solo)
    opt = cls.__new__(cls)
    for key in ("lr", *cls.hyper):
        values = [getattr(o, key) for o in solos]
        if isinstance(values[0], bool):
            if len(set(values)) > 1:
                raise ConfigError(f"a stack's models must share {key}; got {values}")
            setattr(opt, key, values[0])
        else:
            setattr(opt, key, np.array(values, dtype=np.float64).reshape(-1, 1))
    opt._setup(stack.flat, stack.grad_flat, stack.n_weights, stack.backend)
    return opt
