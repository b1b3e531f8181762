"""One training step as a fixed sequence of kernel launches on static buffers (no allocation, no
host sync), so it can be captured into a CUDA graph: forward GEMMs with fused bias + activation,
the softmax cross-entropy gradient, backward GEMMs with fused activation derivatives, bias sums,
and the optimizer's update. Where a step's rows start and how many optimizer steps came before
are read from device memory (`base`, `t0`), so one captured chunk of steps serves every position
in the epoch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import sources as S


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
    base: Any  # int64 (1,): the row of perm where the next captured chunk starts
    lr: Any  # float64 (1,): this epoch's learning rate
    t0: Any  # int64 (1,): the optimizer's steps before the next captured chunk
    out: list
    pre: list | None
    delta: list
    scale: float  # 1 / c of the loss normalization (objective_scale)
    stat: Any = None  # float64 (2, batch): each row's loss and hit (running metrics only)
    sums: Any = None  # float64 (2,): the epoch's loss sum and hits (running metrics only)
    work: Any = None  # (split, batch, width 1): a split-k first GEMM's partial sums

    @classmethod
    def allocate(cls, cp, model, optimizer, X, y, n_train, batch, scale, running=False, split=1):
        check_inputs(model, X, y, n_train)
        dt = model.backend.dtype
        widths = model.sizes[1:]
        keep_z = model.activation.saves == "z"
        return cls(
            model, optimizer, X, y,
            perm=cp.zeros(n_train, dtype=np.int64),
            base=cp.zeros(1, dtype=np.int64),
            lr=cp.zeros(1, dtype=np.float64),
            t0=cp.zeros(1, dtype=np.int64),
            out=[cp.zeros((batch, n), dtype=dt) for n in widths],
            pre=[cp.zeros((batch, n), dtype=dt) for n in widths[:-1]] if keep_z else None,
            delta=[cp.zeros((batch, n), dtype=dt) for n in widths],
            scale=scale,
            stat=cp.zeros((2, batch), dtype=np.float64) if running else None,
            sums=cp.zeros(2, dtype=np.float64) if running else None,
            work=cp.zeros((split, batch, widths[0]), dtype=dt) if split > 1 else None,
        )  # fmt: skip

    def saved(self, layer: int) -> Any:
        """What hidden layer `layer`'s activation derivative reads: its z or its y."""
        return self.pre[layer] if self.pre is not None else self.out[layer]

    def gemm_keys(self) -> list[tuple[str, int, int, int]]:
        return gemm_keys(self.model.activation.name, self.pre is not None)


def gemm_keys(act: str, keep_z: bool) -> list[tuple[str, int, int, int]]:
    """Every (activation, epilogue, gather, trans) GEMM that queue_step launches for a network
    with this hidden activation: what Kernels compiles before capture and what the compile check
    (cuda/compilecheck.py) compiles for every registered activation."""
    forward = S.EPI_BIAS_ACT_KEEP_Z if keep_z else S.EPI_BIAS_ACT
    return [
        (act, forward, S.GATHER_ROWS, S.TRANS_NONE),
        (act, forward, S.GATHER_NONE, S.TRANS_NONE),
        (S.IDENTITY, S.EPI_BIAS_ACT, S.GATHER_ROWS, S.TRANS_NONE),
        (S.IDENTITY, S.EPI_BIAS_ACT, S.GATHER_NONE, S.TRANS_NONE),
        (S.IDENTITY, S.EPI_STORE, S.GATHER_COLS, S.TRANS_A),  # dW: no activation, so one
        (S.IDENTITY, S.EPI_STORE, S.GATHER_NONE, S.TRANS_A),  # module serves every network
        (act, S.EPI_ACT_BACKWARD, S.GATHER_NONE, S.TRANS_B),
    ]


def check_inputs(model: Any, X: Any, y: Any, n_train: int) -> None:
    """The kernels read X as the model's float type, row-major, and y as int64 labels in [0,
    classes): anything else would be misread (int32 labels, or labels out of range, would make
    the loss kernel write out of bounds), so it is refused here. One host sync (the label range),
    once per GraphEpoch."""
    dt = model.backend.dtype
    if X.dtype != dt or X.ndim != 2 or X.shape[1] != model.sizes[0]:
        raise ValueError(f"X must be {dt} of shape (n, {model.sizes[0]}); got {X.dtype} {X.shape}")
    if not X.flags.c_contiguous:
        raise ValueError("X must be C-contiguous (row-major); pass xp.ascontiguousarray(X)")
    if y.dtype != np.int64 or y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be int64 of shape ({len(X)},); got {y.dtype} {y.shape}")
    if not 0 < n_train <= len(X):
        raise ValueError(f"n_train must be in [1, {len(X)}]; got {n_train}")
    classes = model.sizes[-1]
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= classes:
        raise ValueError(f"labels must be in [0, {classes}); got values from {low} to {high}")


def queue_step(k: Any, s: StepBuffers, offset: int, bsz: int, step: int) -> None:
    """Queue one step on the current stream: rows perm[base + offset : base + offset + bsz], base
    read from device memory; `step` is its 1-based index within the captured chunk (the
    optimizer's step count is t0 + step, t0 also in device memory)."""
    m = s.model
    act = m.activation.name
    sizes = m.sizes
    last = len(sizes) - 2
    n_in0 = sizes[0]
    forward = S.EPI_BIAS_ACT_KEEP_Z if s.pre is not None else S.EPI_BIAS_ACT
    rows = {"perm": s.perm, "base": s.base, "offset": offset}
    # Forward: out[l] = act(in @ W + b); layer 0 reads X's rows through the permutation.
    for layer, (W, b, _, _) in enumerate(m._layers):
        first, top = layer == 0, layer == last
        k.gemm(
            act=S.IDENTITY if top else act,
            epi=S.EPI_BIAS_ACT if top else forward,
            gather=S.GATHER_ROWS if first else S.GATHER_NONE, trans=S.TRANS_NONE,
            A=s.X if first else s.out[layer - 1], **rows,
            sa=(n_in0, 1) if first else (sizes[layer], 1),
            B=W, sb=(sizes[layer + 1], 1),
            C=s.out[layer], ldc=sizes[layer + 1], E=b,
            m=bsz, n=sizes[layer + 1], k=sizes[layer],
            Z=None if top or s.pre is None else s.pre[layer], work=s.work if first else None,
        )  # fmt: skip
    # Loss gradient with respect to the logits, labels read through the permutation.
    k.softmax_ce_grad(s.out[last], s.y, s.perm, s.base, offset, s.delta[last], bsz, sizes[-1],
                      s.scale / bsz, stat=s.stat)  # fmt: skip
    if s.sums is not None:
        k.batch_stats(s.stat, s.sums, bsz)
    # Backward: dW = in.T @ delta, db = column sums, delta_prev = (delta @ W.T) * f'(saved).
    for layer in range(last, -1, -1):
        W, _, dW, db = m._layers[layer]
        n_in, n_out = sizes[layer], sizes[layer + 1]
        first = layer == 0
        k.gemm(
            act=S.IDENTITY, epi=S.EPI_STORE, gather=S.GATHER_COLS if first else S.GATHER_NONE,
            trans=S.TRANS_A, A=s.X if first else s.out[layer - 1], **rows,
            sa=(1, n_in0) if first else (1, n_in),
            B=s.delta[layer], sb=(n_out, 1), C=dW, ldc=n_out, E=db, m=n_in, n=n_out, k=bsz,
        )  # fmt: skip
        k.column_sum(s.delta[layer], db, bsz, n_out)
        if first:
            break
        k.gemm(
            act=act, epi=S.EPI_ACT_BACKWARD, gather=S.GATHER_NONE, trans=S.TRANS_B,
            A=s.delta[layer], **rows, sa=(n_out, 1),
            B=W, sb=(1, n_out), C=s.delta[layer - 1], ldc=n_in, E=s.saved(layer - 1),
            m=bsz, n=n_in, k=n_out,
        )  # fmt: skip
    # The optimizer's update of every parameter (nn/optimizers.py, its CUDA contract).
    opt = s.optimizer
    buffers = [opt.state[name] for name in opt.buffers] + [m.grad_flat] * 2  # unused: any pointer
    k.update(m.flat, m.grad_flat, buffers[0], buffers[1], s.lr, s.t0, step, m.n_weights,
             int(m.flat.size), opt.cuda_args())  # fmt: skip
