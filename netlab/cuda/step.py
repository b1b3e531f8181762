"""One training step as a fixed sequence of kernel launches on static buffers (no allocation, no
host sync), so it can be captured into a CUDA graph: forward GEMMs with fused bias + activation,
the softmax cross-entropy gradient, backward GEMMs with fused activation derivatives, bias sums,
and the optimizer's update kernel."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernels as K


@dataclass
class StepBuffers:
    """Device state of a captured step: the model and optimizer, the data, and per-layer buffers
    sized for the largest batch (out: activations; pre: pre-activations when the activation's
    derivative needs z; delta: gradients with respect to each layer's output)."""

    model: Any
    optimizer: Any
    X: Any
    y: Any
    perm: Any  # int64 (n_train,): this epoch's row order
    lr: Any  # float64 (1,): this epoch's learning rate
    t0: Any  # int64 (1,): the optimizer's steps before this epoch
    out: list
    pre: list | None
    delta: list
    scale: float  # 1 / c of the loss normalization (objective_scale)

    @classmethod
    def allocate(cls, cp, model, optimizer, X, y, n_train, batch, scale) -> StepBuffers:
        check_inputs(model, X, y, n_train)
        dt = model.backend.dtype
        widths = model.sizes[1:]
        keep_z = model.activation.saves == "z"
        return cls(
            model, optimizer, X, y,
            perm=cp.zeros(n_train, dtype=np.int64),
            lr=cp.zeros(1, dtype=np.float64),
            t0=cp.zeros(1, dtype=np.int64),
            out=[cp.zeros((batch, n), dtype=dt) for n in widths],
            pre=[cp.zeros((batch, n), dtype=dt) for n in widths[:-1]] if keep_z else None,
            delta=[cp.zeros((batch, n), dtype=dt) for n in widths],
            scale=scale,
        )  # fmt: skip

    def saved(self, layer: int) -> Any:
        """What hidden layer `layer`'s activation derivative reads: its z or its y."""
        return self.pre[layer] if self.pre is not None else self.out[layer]

    def gemm_keys(self) -> list[tuple[str, int, int]]:
        act = self.model.activation.name
        forward = K.EPI_BIAS_ACT_KEEP_Z if self.pre is not None else K.EPI_BIAS_ACT
        return [
            (act, forward, K.GATHER_ROWS),
            (act, forward, K.GATHER_NONE),
            (K.IDENTITY, K.EPI_BIAS_ACT, K.GATHER_ROWS),
            (K.IDENTITY, K.EPI_BIAS_ACT, K.GATHER_NONE),
            (act, K.EPI_STORE, K.GATHER_COLS),
            (act, K.EPI_STORE, K.GATHER_NONE),
            (act, K.EPI_ACT_BACKWARD, K.GATHER_NONE),
        ]


def check_inputs(model: Any, X: Any, y: Any, n_train: int) -> None:
    """The kernels read X as the model's float type, row-major, and y as int64: anything else
    would be misread (int32 labels would index out of bounds), so it is refused here."""
    dt = model.backend.dtype
    if X.dtype != dt or X.ndim != 2 or X.shape[1] != model.sizes[0]:
        raise ValueError(f"X must be {dt} of shape (n, {model.sizes[0]}); got {X.dtype} {X.shape}")
    if not X.flags.c_contiguous:
        raise ValueError("X must be C-contiguous (row-major)")
    if y.dtype != np.int64 or y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be int64 of shape ({len(X)},); got {y.dtype} {y.shape}")
    if not 0 < n_train <= len(X):
        raise ValueError(f"n_train must be in [1, {len(X)}]; got {n_train}")


def queue_step(k: Any, s: StepBuffers, start: int, bsz: int, step: int) -> None:
    """Queue one step on the current stream: rows perm[start : start + bsz]; `step` is its 1-based
    index within the epoch (the optimizer's step count is t0 + step)."""
    m = s.model
    act = m.activation.name
    sizes = m.sizes
    last = len(sizes) - 2
    n_in0 = sizes[0]
    forward = K.EPI_BIAS_ACT_KEEP_Z if s.pre is not None else K.EPI_BIAS_ACT
    # Forward: out[l] = act(in @ W + b); layer 0 reads X's rows through the permutation.
    for layer, (W, b, _, _) in enumerate(m._layers):
        first, top = layer == 0, layer == last
        k.gemm(
            act=K.IDENTITY if top else act,
            epi=K.EPI_BIAS_ACT if top else forward,
            gather=K.GATHER_ROWS if first else K.GATHER_NONE,
            A=s.X if first else s.out[layer - 1],
            perm=s.perm, offset=start,
            sa=(n_in0, 1) if first else (sizes[layer], 1),
            B=W, sb=(sizes[layer + 1], 1),
            C=s.out[layer], ldc=sizes[layer + 1], E=b,
            m=bsz, n=sizes[layer + 1], k=sizes[layer],
            Z=None if top or s.pre is None else s.pre[layer],
        )  # fmt: skip
    # Loss gradient with respect to the logits, labels read through the permutation.
    dt = m.backend.dtype
    k.softmax_ce_grad(
        (math.ceil(bsz / 128),), (128,),
        (s.out[last], s.y, s.perm, np.int64(start), s.delta[last], np.int32(bsz),
         np.int32(sizes[-1]), dt.type(s.scale / bsz)),
    )  # fmt: skip
    # Backward: dW = in.T @ delta, db = column sums, delta_prev = (delta @ W.T) * f'(saved).
    for layer in range(last, -1, -1):
        W, _, dW, db = m._layers[layer]
        n_in, n_out = sizes[layer], sizes[layer + 1]
        first = layer == 0
        k.gemm(
            act=act, epi=K.EPI_STORE, gather=K.GATHER_COLS if first else K.GATHER_NONE,
            A=s.X if first else s.out[layer - 1], perm=s.perm, offset=start,
            sa=(1, n_in0) if first else (1, n_in),
            B=s.delta[layer], sb=(n_out, 1), C=dW, ldc=n_out, E=db, m=n_in, n=n_out, k=bsz,
        )  # fmt: skip
        k.column_sum(
            (math.ceil(n_out / 128),), (128,), (s.delta[layer], db, np.int32(bsz), np.int32(n_out))
        )
        if first:
            break
        k.gemm(
            act=act, epi=K.EPI_ACT_BACKWARD, gather=K.GATHER_NONE,
            A=s.delta[layer], perm=s.perm, offset=start, sa=(n_out, 1),
            B=W, sb=(1, n_out), C=s.delta[layer - 1], ldc=n_in, E=s.saved(layer - 1),
            m=bsz, n=n_in, k=n_out,
        )  # fmt: skip
    # The optimizer's update of every parameter (nn/optimizers.py, its CUDA contract).
    opt = s.optimizer
    n = int(m.flat.size)
    buffers = [opt.state[name] for name in opt.buffers] + [m.grad_flat] * 2  # unused: any pointer
    k.update(
        (math.ceil(n / 256),), (256,),
        (m.flat, m.grad_flat, buffers[0], buffers[1], s.lr, s.t0, np.int64(step),
         np.int64(m.n_weights), np.int64(n), *(np.float64(h) for h in opt.cuda_args())),
    )  # fmt: skip
