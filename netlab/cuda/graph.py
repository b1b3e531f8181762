"""CUDA-graph training: a whole epoch of steps captured once as one CUDA graph, then replayed.

On a GPU the study's network is launch-bound (~40 small kernels per step, ~13 µs of host time
each). Here a step is ~14 fused kernels (kernels.py, launched by step.py) reading the batch through
a device-resident permutation, and the epoch's steps are captured into one graph: one launch per
epoch. The permutation, the learning rate and the optimizer's step count live in device buffers
that are refreshed before each replay, so the same graph serves every epoch. `graph_plan` decides
where this applies; everything else trains eagerly (training/epoch.py), which is also what every
non-CUDA backend does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels as K
from .step import StepBuffers, queue_step

# Wider layers are GEMM-bound: cuBLAS (the eager path) beats netlab's tiled GEMM there.
MAX_GRAPH_WIDTH = 2048


def graph_plan(
    backend: Any,
    sizes: list[int],
    config: Any,
    wanted: bool | None,
    activation: Any = None,
    optimizer: Any = None,
) -> tuple[bool, str]:
    """(use the graph path, why not / a notice). wanted: True, False, or None (= where it applies).

    Returns a reason string when graph mode was asked for (or is the default) but does not apply;
    "" when graph mode runs or was not wanted.
    """
    if wanted is False:
        return False, ""
    if backend.name != "cuda":
        return False, "graph mode needs a CUDA device; training eagerly" if wanted else ""
    t = config.training
    eager_only = [
        (t.dropout, "dropout"),
        (t.input_dropout, "input dropout"),
        (t.label_smoothing, "label smoothing"),
        (t.augment, "augmentation"),
    ]
    for value, what in eager_only:
        if value:
            return False, f"graph mode does not support {what} yet; training eagerly on CUDA"
    if activation is not None and activation.definition.cuda is None:
        return False, f"activation {activation.name} has no CUDA kernel; training eagerly on CUDA"
    if optimizer is not None and optimizer.cuda is None:
        return False, f"optimizer {optimizer.name} has no CUDA kernel; training eagerly on CUDA"
    if max(sizes[1:]) > MAX_GRAPH_WIDTH:
        return False, (
            f"layers wider than {MAX_GRAPH_WIDTH} are GEMM-bound; training eagerly with cuBLAS"
        )
    return True, ""


class GraphEpoch:
    """Runs epochs of mini-batch training on `model` as one replayed CUDA graph.

    Args:
        model, optimizer: as in training.loop (the optimizer's hyperparameters are read once; lr
            and the step count are refreshed per epoch through device buffers).
        X, y: device arrays (all rows; the permutation selects training rows).
        n_train: rows per epoch; batch_size, loss_norm: as in the config.
    """

    def __init__(self, model, optimizer, X, y, n_train: int, batch_size: int, loss_norm: str):
        from ..nn.losses import objective_scale

        cp = model.backend.xp
        self.model, self.optimizer, self.cp = model, optimizer, cp
        self.steps = [
            (start, min(batch_size, n_train - start)) for start in range(0, n_train, batch_size)
        ]
        self.n_train = n_train
        act = model.activation
        self.kernels = K.Kernels(cp, model.backend.dtype, act.name, act.slope, optimizer)
        self.buffers = StepBuffers.allocate(
            cp, model, optimizer, X, y, n_train, min(batch_size, n_train),
            objective_scale(loss_norm, model.sizes[-1]),
        )  # fmt: skip
        self.perm, self.lr = self.buffers.perm, self.buffers.lr  # refreshed before each replay
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.graph = None

    def _queue_epoch(self) -> None:
        for i, (start, bsz) in enumerate(self.steps):
            queue_step(self.kernels, self.buffers, start, bsz, i + 1)

    def _refresh(self, order: np.ndarray, lr: float) -> None:
        self.perm.set(np.ascontiguousarray(order, dtype=np.int64), stream=self.stream)
        self.lr.fill(lr)
        self.buffers.t0.fill(self.optimizer.steps)

    def capture(self) -> None:
        """Compile every kernel, then record one epoch of steps into a CUDA graph."""
        self.kernels.compile(self.buffers.gemm_keys())
        self.stream.synchronize()
        self.cp.cuda.get_current_stream().synchronize()  # parameters and buffers are ready
        with self.stream:
            self.stream.begin_capture()
            try:
                self._queue_epoch()
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
            self._refresh(order, lr)
            self.graph.launch(self.stream)
        self.stream.synchronize()  # once per epoch: evaluation reads the weights next

    def run_eager(self, order: np.ndarray, lr: float) -> None:
        """The same kernels launched one by one (no graph): for checking capture against it."""
        self.kernels.compile(self.buffers.gemm_keys())
        self.cp.cuda.get_current_stream().synchronize()
        with self.stream:
            self._refresh(order, lr)
            self._queue_epoch()
        self.stream.synchronize()
