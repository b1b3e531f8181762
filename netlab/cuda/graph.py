"""CUDA-graph training: a chunk of training steps captured once as one CUDA graph, then replayed
until the epoch is done.

On a GPU the study's network is launch-bound (~40 small kernels per step, ~13 µs of host time
each). Here a step is ~14 fused kernels (kernels.py, launched by step.py) reading the batch through
a device-resident permutation, and up to CHUNK_STEPS steps are captured into one graph whose last
node advances the step offset and the optimizer's step count in device memory: the study's
baseline (375 steps) is one launch per epoch, a batch-1 epoch of 48,000 steps 94 launches of a
512-step graph instead of one graph of 624,000 nodes. The permutation, the learning rate and the
counters are refreshed before each epoch, so the same graphs serve every epoch. `graph_plan`
decides where this applies; everything else trains eagerly (training/epoch.py), which is also
what every non-CUDA backend does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import kernels as K
from .sources import Variant
from .step import StepBuffers, queue_step

CHUNK_STEPS = 512  # steps per captured graph: ~7,000 nodes, recorded in well under a second
# Estimates, to be replaced by the crossover `benchmarks/gpu.py --sweep` measures on a GPU:
# an eager step costs ~0.5 ms of launch overhead (~40 launches x ~13 µs, docs/performance.md);
# a graph step whose GEMMs do more than ~1e9 multiply-adds would lose more than that to the
# tiled GEMM being slower than cuBLAS, and a GEMM that adds more than 16,384 products per output
# serially runs >1,000 tile iterations per block where cuBLAS splits the sum.
MAX_STEP_MACS = 10**9
MAX_SERIAL_K = 16_384


def step_macs(sizes: list[int], batch: int) -> int:
    """Multiply-adds of one training step: forward and dW for every layer, dx for all but the
    first (nothing needs the gradient of the data)."""
    layers = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
    return batch * (2 * sum(layers) + sum(layers[1:]))


def serial_k(sizes: list[int], batch: int) -> int:
    """The longest sum one GEMM output adds up serially: k of forward (n_in), dW (the batch) and
    dx (n_out of the layers above the first)."""
    return max(*sizes[:-1], batch, *sizes[2:])


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
    macs = step_macs(sizes, t.batch_size)
    if macs > MAX_STEP_MACS:
        return False, (
            f"a step of {macs:.3g} multiply-adds is GEMM-bound (graph mode's limit is "
            f"{MAX_STEP_MACS:.0e}); training eagerly with cuBLAS"
        )
    k = serial_k(sizes, t.batch_size)
    if k > MAX_SERIAL_K:
        return False, (
            f"a GEMM of this network sums {k} products per output (graph mode's tiled GEMM adds "
            f"at most {MAX_SERIAL_K} serially); training eagerly with cuBLAS"
        )
    return True, ""


def chunk_schedule(n_train: int, batch: int, chunk: int) -> list[tuple[tuple[int, int], int]]:
    """[((full steps, rows of a last partial step or 0), replays)]: the captured graphs of an
    epoch and how often each is launched, in order."""
    full, rest = divmod(n_train, batch)
    if full + (rest > 0) <= chunk:
        return [((full, rest), 1)]
    schedule = [((chunk, 0), full // chunk)]
    if full % chunk or rest:
        schedule.append(((full % chunk, rest), 1))
    return schedule


class GraphEpoch:
    """Runs epochs of mini-batch training on `model` as replays of captured CUDA graphs.

    Args:
        model, optimizer: as in training.loop (the optimizer's hyperparameters are read once; lr
            and the step count are refreshed per epoch through device buffers).
        X, y: device arrays (all rows; the permutation selects training rows), checked by
            step.check_inputs.
        n_train: rows per epoch; batch_size, loss_norm: as in the config.
        running: also sum each batch's loss and hits before its update (train_metrics="running").
        variant: the kernels' build (sources.Variant); the default is what training uses.
        chunk_steps: steps per captured graph (default CHUNK_STEPS; the self-check uses fewer).
    """

    def __init__(self, model, optimizer, X, y, n_train: int, batch_size: int, loss_norm: str,
                 *, running: bool = False, variant: Variant | None = None,
                 chunk_steps: int | None = None):  # fmt: skip
        from ..nn.losses import objective_scale

        cp = model.backend.xp
        self.model, self.optimizer, self.cp = model, optimizer, cp
        self.n_train, self.n_rows = n_train, len(X)
        self.batch = min(batch_size, n_train)
        self.n_steps = math.ceil(n_train / self.batch)
        self.schedule = chunk_schedule(n_train, self.batch, chunk_steps or CHUNK_STEPS)
        act = model.activation
        self.kernels = K.Kernels(cp, model.backend.dtype, act.name, act.slope, optimizer, variant)
        self.buffers = StepBuffers.allocate(
            cp, model, optimizer, X, y, n_train, self.batch,
            objective_scale(loss_norm, model.sizes[-1]), running=running,
            split=self.kernels.variant.split_k,
        )  # fmt: skip
        self.perm, self.lr = self.buffers.perm, self.buffers.lr  # refreshed before each epoch
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.graphs: dict[tuple[int, int], Any] = {}

    def _queue_chunk(self, full: int, partial: int) -> None:
        b = self.batch
        for i in range(full):
            queue_step(self.kernels, self.buffers, i * b, b, i + 1)
        if partial:
            queue_step(self.kernels, self.buffers, full * b, partial, full + 1)
        s = self.buffers
        self.kernels.advance(s.base, s.t0, full * b + partial, full + (partial > 0))

    def _refresh(self, order: np.ndarray, lr: float) -> None:
        s = self.buffers
        self.perm.set(np.ascontiguousarray(order, dtype=np.int64), stream=self.stream)
        self.lr.fill(lr)
        s.t0.fill(self.optimizer.steps)
        s.base.fill(0)
        if s.sums is not None:
            s.sums.fill(0)

    def capture(self) -> None:
        """Compile every kernel, then record each graph of the epoch's schedule."""
        self.kernels.compile(self.buffers.gemm_keys())
        self.stream.synchronize()
        self.cp.cuda.get_current_stream().synchronize()  # parameters and buffers are ready
        for key, _ in self.schedule:
            if key not in self.graphs:
                self.graphs[key] = self._capture(*key)

    def _capture(self, full: int, partial: int) -> Any:
        with self.stream:
            self.stream.begin_capture()
            try:
                self._queue_chunk(full, partial)
            except BaseException:
                # Leave capture mode; its own "capture invalidated" error would hide this one.
                try:
                    self.stream.end_capture()
                except Exception:  # the first error is the one to report
                    pass
                raise
            return self.stream.end_capture()

    def _check_order(self, order: np.ndarray) -> None:
        if len(order) != self.n_train:
            raise ValueError(
                f"order has {len(order)} rows; this graph was captured for {self.n_train}"
            )
        if len(order) and (order.min() < 0 or order.max() >= self.n_rows):
            raise ValueError(f"order must hold row indices in [0, {self.n_rows})")

    def run(
        self, order: np.ndarray, lr: float, on_batch: Callable[[int], None] | None = None,
        launched: list | None = None,
    ) -> tuple[Any, Any] | None:  # fmt: skip
        """One epoch over the rows in `order` (host ints, e.g. a permutation of the training rows).

        on_batch(b) is called for every batch b in order once its graph replay is queued (as the
        eager CUDA path calls it once the batch's kernels are queued). Returns the epoch's
        (loss sum, hits) as device scalars when built with running=True, else None. `launched`
        receives each graph's key just before it is launched (cuda/guard.py: from then on a
        failure may have changed the weights).
        """
        self._check_order(order)
        if len(self.graphs) < len(self.schedule):
            self.capture()
        self.cp.cuda.get_current_stream().synchronize()  # eager work on the parameters is done
        done = 0
        with self.stream:
            self._refresh(order, lr)
            for key, replays in self.schedule:
                steps = key[0] + (key[1] > 0)
                for _ in range(replays):
                    if launched is not None:
                        launched.append(key)
                    self.graphs[key].launch(self.stream)
                    for b in range(done, done + steps) if on_batch is not None else ():
                        on_batch(b)
                    done += steps
        self.stream.synchronize()  # once per epoch: evaluation reads the weights next
        sums = self.buffers.sums
        return None if sums is None else (sums[0], sums[1])

    def run_eager(self, order: np.ndarray, lr: float) -> None:
        """The same kernels launched one by one (no graph): for checking capture against it."""
        self._check_order(order)
        self.kernels.compile(self.buffers.gemm_keys())
        self.cp.cuda.get_current_stream().synchronize()
        with self.stream:
            self._refresh(order, lr)
            for key, replays in self.schedule:
                for _ in range(replays):
                    self._queue_chunk(*key)
        self.stream.synchronize()
