"""CUDA-graph training: a whole epoch of SGD steps captured once as one CUDA graph, then replayed.

On a GPU the study's network is launch-bound (~40 small kernels per step, ~13 µs of host time
each). Here a step is ~14 fused kernels (kernels.py) reading the batch through a device-resident
permutation, and the epoch's 375 steps are captured into one graph: one launch per epoch. The
permutation and the learning rate live in device buffers that are refreshed before each replay, so
the same graph serves every epoch. `graph_plan` decides where this applies; everything else trains
eagerly (train.train_epoch), which is also what every non-CUDA backend does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import kernels as K
from .backend import Array
from .layers import MLP
from .optim import SGD

# Wider layers are GEMM-bound: cuBLAS (the eager path) beats netlab's tiled GEMM there.
MAX_GRAPH_WIDTH = 2048


def graph_plan(
    backend: Any, sizes: list[int], dropout: float, wanted: bool | None
) -> tuple[bool, str]:
    """(use the graph path, why not / a notice). wanted: True, False, or None (= where it applies).

    Returns a reason string when graph mode was asked for (or is the default) but does not apply;
    "" when graph mode runs or was not wanted.
    """
    if wanted is False:
        return False, ""
    if backend.name != "cuda":
        return False, "graph mode needs a CUDA device; training eagerly" if wanted else ""
    if dropout:
        return False, "graph mode does not support dropout yet; training eagerly on CUDA"
    if max(sizes[1:]) > MAX_GRAPH_WIDTH:
        return False, (
            f"layers wider than {MAX_GRAPH_WIDTH} are GEMM-bound; training eagerly with cuBLAS"
        )
    return True, ""


class GraphEpoch:
    """Runs epochs of mini-batch SGD on `model` as one replayed CUDA graph.

    Args:
        model, optimizer: as in train.fit (the optimizer's hyperparameters are read once; lr is
            refreshed per epoch through a device buffer).
        X, y: device arrays (all rows; the permutation selects training rows).
        n_train: rows per epoch; batch_size, loss_norm: as in the config.
    """

    def __init__(
        self,
        model: MLP,
        optimizer: SGD,
        X: Array,
        y: Array,
        n_train: int,
        batch_size: int,
        loss_norm: str,
    ) -> None:
        from .losses import objective_scale

        backend = model.backend
        cp = backend.xp
        self.model, self.optimizer, self.X, self.y = model, optimizer, X, y
        self.cp, self.dtype = cp, backend.dtype
        self.sizes = model.sizes
        self.steps = [
            (start, min(batch_size, n_train - start)) for start in range(0, n_train, batch_size)
        ]
        self.n_train, self.batch_size = n_train, batch_size
        self.classes_scale = objective_scale(loss_norm, self.sizes[-1])
        self.kernels = K.Kernels(cp, self.dtype, model.activation.name, model.activation.slope)
        b = min(batch_size, n_train)
        self.perm = cp.zeros(n_train, dtype=np.int64)
        self.lr = cp.zeros(1, dtype=self.dtype)
        self.out = [cp.zeros((b, n), dtype=self.dtype) for n in self.sizes[1:]]
        self.delta = [cp.zeros((b, n), dtype=self.dtype) for n in self.sizes[1:]]
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.graph = None

    # ------------------------------------------------------------------ one step, as launches

    def _gemm_keys(self) -> list[tuple[str, int, int]]:
        act = self.model.activation.name
        return [
            (act, K.EPI_BIAS_ACT, K.GATHER_ROWS),
            (act, K.EPI_BIAS_ACT, K.GATHER_NONE),
            ("identity", K.EPI_BIAS_ACT, K.GATHER_ROWS),
            ("identity", K.EPI_BIAS_ACT, K.GATHER_NONE),
            (act, K.EPI_STORE, K.GATHER_COLS),
            (act, K.EPI_STORE, K.GATHER_NONE),
            (act, K.EPI_ACT_BACKWARD, K.GATHER_NONE),
        ]

    def _step(self, start: int, bsz: int) -> None:
        """Queue one SGD step on the current stream (no allocation, no host sync)."""
        k, m = self.kernels, self.model
        act = m.activation.name
        last = len(self.sizes) - 2
        n_in0 = self.sizes[0]
        # Forward: out[l] = act(in @ W + b); layer 0 reads X's rows through the permutation.
        for layer, (W, b, _, _) in enumerate(m._layers):
            n_in, n_out = self.sizes[layer], self.sizes[layer + 1]
            first = layer == 0
            k.gemm(
                act="identity" if layer == last else act,
                epi=K.EPI_BIAS_ACT,
                gather=K.GATHER_ROWS if first else K.GATHER_NONE,
                A=self.X if first else self.out[layer - 1],
                perm=self.perm,
                offset=start,
                sa=(n_in0, 1) if first else (n_in, 1),
                B=W,
                sb=(n_out, 1),
                C=self.out[layer],
                ldc=n_out,
                E=b,
                m=bsz,
                n=n_out,
                k=n_in,
            )
        # Loss gradient with respect to the logits, labels read through the permutation.
        c = self.sizes[-1]
        scale = self.dtype.type(self.classes_scale / bsz)
        k.softmax_ce_grad(
            (math.ceil(bsz / 128),),
            (128,),
            (self.out[last], self.y, self.perm, np.int64(start), self.delta[last], np.int32(bsz),
             np.int32(c), scale),
        )  # fmt: skip
        # Backward: dW = in.T @ delta, db = column sums, delta_prev = (delta @ W.T) * f'(out_prev).
        for layer in range(last, -1, -1):
            W, _, dW, db = m._layers[layer]
            n_in, n_out = self.sizes[layer], self.sizes[layer + 1]
            first = layer == 0
            k.gemm(
                act=act,
                epi=K.EPI_STORE,
                gather=K.GATHER_COLS if first else K.GATHER_NONE,
                A=self.X if first else self.out[layer - 1],
                perm=self.perm,
                offset=start,
                sa=(1, n_in0) if first else (1, n_in),
                B=self.delta[layer],
                sb=(n_out, 1),
                C=dW,
                ldc=n_out,
                E=db,
                m=n_in,
                n=n_out,
                k=bsz,
            )
            k.column_sum(
                (math.ceil(n_out / 128),),
                (128,),
                (self.delta[layer], db, np.int32(bsz), np.int32(n_out)),
            )
            if first:
                break
            k.gemm(
                act=act,
                epi=K.EPI_ACT_BACKWARD,
                gather=K.GATHER_NONE,
                A=self.delta[layer],
                perm=self.perm,
                offset=start,
                sa=(n_out, 1),
                B=W,
                sb=(1, n_out),
                C=self.delta[layer - 1],
                ldc=n_in,
                E=self.out[layer - 1],
                m=bsz,
                n=n_in,
                k=n_out,
            )
        # The update of every parameter, L2 on the weights only (optim.SGD.step).
        opt = self.optimizer
        n = int(m.flat.size)
        t = self.dtype.type
        k.sgd_update(
            (math.ceil(n / 256),),
            (256,),
            (m.flat, m.grad_flat, opt.velocity, self.lr, t(opt.momentum), t(2.0 * opt.l2),
             np.int64(m.n_weights), np.int64(n), np.int32(opt.nesterov)),
        )  # fmt: skip

    # ------------------------------------------------------------------ capture and replay

    def capture(self) -> None:
        """Compile every kernel, then record one epoch of steps into a CUDA graph."""
        self.kernels.compile(self._gemm_keys())
        self.stream.synchronize()
        self.cp.cuda.get_current_stream().synchronize()  # parameters and buffers are ready
        with self.stream:
            self.stream.begin_capture()
            try:
                for start, bsz in self.steps:
                    self._step(start, bsz)
            finally:
                graph = self.stream.end_capture()
        self.graph = graph

    def run(self, order: np.ndarray, lr: float) -> None:
        """One epoch over the rows in `order` (host int64, a permutation of the training rows)."""
        if len(order) != self.n_train:
            raise ValueError(
                f"order has {len(order)} rows; this graph was captured for {self.n_train}"
            )
        if self.graph is None:
            self.capture()
        self.cp.cuda.get_current_stream().synchronize()  # eager work on the parameters is done
        with self.stream:
            self.perm.set(np.ascontiguousarray(order, dtype=np.int64), stream=self.stream)
            self.lr.fill(lr)
            self.graph.launch(self.stream)
        self.stream.synchronize()  # once per epoch: evaluation reads the weights next

    def run_eager(self, order: np.ndarray, lr: float) -> None:
        """The same kernels launched one by one (no graph): for checking capture against it."""
        self.kernels.compile(self._gemm_keys())
        self.cp.cuda.get_current_stream().synchronize()
        with self.stream:
            self.perm.set(np.ascontiguousarray(order, dtype=np.int64), stream=self.stream)
            self.lr.fill(lr)
            for start, bsz in self.steps:
                self._step(start, bsz)
        self.stream.synchronize()
