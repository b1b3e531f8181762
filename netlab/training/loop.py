"""The training loop: epochs, per-epoch metrics, divergence checks, early stopping with best-weight
restore, history and checkpoints.

Progress reaches a caller through `hooks.progress(event)`; metrics are read from the device once
per epoch, never inside the batch loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..config import Config
from ..data.prepare import Prepared
from ..errors import ConfigError
from ..files.history import HISTORY_FIELDS  # noqa: F401  (re-exported)
from ..nn.layers import MLP
from ..nn.optimizers import make_optimizer
from ..nn.schedules import scheduled_lr
from .checkpoint import TrainState
from .divergence import diverged_error, exploded, exploded_error
from .epoch import Regularizers, locate_divergence, train_epoch
from .evaluation import Evaluation, evaluate
from .progress import BatchEnd, EpochEnd, EpochStart, Notice, Progress


def early_stopped(epoch: int, best_epoch: int, patience: int, epochs: int) -> bool:
    """Early stopping's rule after `epoch`: `patience` epochs (> 0) without a better validation
    value, and epochs left to skip."""
    return patience > 0 and epoch - best_epoch >= patience and epoch < epochs


@dataclass
class Rngs:
    """The run's independent generators, all spawned from one seed: the stratified split, the
    initial weights, the batch order, dropout masks and augmentation draws. Changing the model,
    the dropout or the augmentation never changes the split or the batch order."""

    split: np.random.Generator
    init: np.random.Generator
    shuffle: np.random.Generator
    dropout: np.random.Generator
    augment: np.random.Generator

    STATEFUL = ("shuffle", "dropout", "augment")  # what a checkpoint saves

    def states(self) -> dict[str, dict]:
        return {k: getattr(self, k).bit_generator.state for k in self.STATEFUL}

    def restore(self, states: dict[str, dict]) -> None:
        for k in self.STATEFUL:
            if k in states:  # checkpoints of netlab 0.2 have no augment state (it was unused)
                getattr(self, k).bit_generator.state = states[k]


def seeded_rngs(seed: int) -> Rngs:
    return Rngs(*np.random.default_rng(seed).spawn(5))


@dataclass
class Hooks:
    """Callbacks of fit: progress events; checkpoint(state) after every epoch; on_start() once
    everything is validated, just before the first epoch (the CLI takes its run directory there,
    so a bad input leaves nothing behind)."""

    progress: Progress | None = None
    checkpoint: Callable[[TrainState], None] | None = None
    on_start: Callable[[], None] | None = None


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    seconds: float
    best_value: float = math.inf
    extra: dict = field(default_factory=dict)


def fit(
    model: MLP,
    data: Prepared,
    config: Config,
    rngs: Rngs,
    *,
    hooks: Hooks | None = None,
    graph: bool | None = None,
    resume: TrainState | None = None,
    train_metrics: str = "exact",
) -> FitResult:
    """Train `model` on data.train_idx, early-stopping on data.val_idx; restores the best weights.

    The best epoch is the one with the highest validation accuracy (or lowest validation loss,
    per training.monitor); ties keep the earlier epoch. Without a validation split (an empty
    data.val_idx, as the scikit-learn estimator trains without early stopping) it is the last.
    patience = 0 runs every epoch and still restores the best weights, as the study did;
    patience = k stops after k epochs without improvement.

    graph: on CUDA, capture each epoch as one CUDA graph (cuda/graph.py); None = wherever it
    applies (a Notice says why not when it does not), False = always eager.
    resume: a checkpointed state of this config to continue from (bit-identical on CPU).
    train_metrics: "exact" (a full pass over the training split after each epoch, what netlab
    reports everywhere) or "running" (the mean over the epoch's batches, each measured before its
    update; cheaper; the scikit-learn estimator's loss_curve_).
    A NaN or Inf in the losses or the parameters raises TrainingDiverged naming the epoch and the
    first bad batch (found by replaying that epoch from its start), before any checkpoint of it;
    so does a finite explosion: a training or validation loss above divergence.EXPLODED_LOSS.
    """
    trainer = Trainer(model, data, config, rngs, hooks or Hooks(), graph, train_metrics)
    if resume is not None:
        trainer.restore(resume)
    return trainer.run()


class Trainer:
    """The state of one fit: optimizer, best weights so far, history, and the epoch runner."""

    def __init__(self, model, data, config, rngs, hooks, graph, train_metrics) -> None:
        t = config.training
        if train_metrics not in ("exact", "running"):
            raise ConfigError(f"train_metrics must be 'exact' or 'running'; got {train_metrics!r}")
        if t.batch_size > len(data.train_idx):
            raise ConfigError(
                f"training.batch_size must be at most the training split size "
                f"({len(data.train_idx)}); got {t.batch_size}"
            )
        self.model, self.data, self.config, self.t, self.rngs = model, data, config, t, rngs
        self.hooks, self.running = hooks, train_metrics == "running"
        self.optimizer = make_optimizer(t.optimizer, model, t.lr, vars(t))
        self.base_lr = self.optimizer.lr  # the schedule scales this one
        self.reg = Regularizers.from_config(t, rngs, self._augmenter())
        self.runner = self._graph_runner(graph)
        self.history: list[dict[str, float]] = []
        self.best_value, self.best_epoch, self.stopped, self.first = math.inf, 0, False, 1
        self.best_flat = model.flat.copy()

    def _augmenter(self):
        if not self.t.augment:
            return None
        from .augment import Augmenter

        d = self.data
        fill = -d.mean / d.std  # a black pixel (0) after normalization
        return Augmenter(self.t.augment, d.n_features, fill, self.model.backend)

    def _graph_runner(self, wanted: bool | None):
        """The guarded graph runner that trains this fit, or None: eager (cuda/runner.py)."""
        from ..cuda.runner import graph_runner

        notify = (lambda text: self.hooks.progress(Notice(text))) if self.hooks.progress else None
        return graph_runner(self.model, self.optimizer, self.data, self.config, wanted,
                            self.running, notify)  # fmt: skip

    def restore(self, state: TrainState) -> None:
        be, opt = self.model.backend, self.optimizer
        if state.optimizer != opt.name or set(state.opt_state) != set(opt.state):
            raise ConfigError(
                f"the checkpoint holds the state of optimizer {state.optimizer!r}, this run uses "
                f"{opt.name!r}; restore the run's config or start a new run"
            )
        self.model.flat[...] = be.asarray(state.flat)
        self.best_flat[...] = be.asarray(state.best_flat)
        for name, a in state.opt_state.items():
            opt.state[name][...] = be.asarray(a)
        opt.steps = state.opt_steps
        self.history = [dict(r) for r in state.history]
        self.best_value, self.best_epoch = state.best_value, state.best_epoch
        self.stopped, self.first = state.stopped, state.epoch + 1
        self.rngs.restore(state.rng_states)

    def run(self) -> FitResult:
        if self.hooks.on_start is not None:
            self.hooks.on_start()
        # A resumed run's time: its earlier epochs (their own clocks, in the restored history)
        # plus this call's wall time.
        earlier = sum(float(r.get("seconds", 0.0)) for r in self.history)
        started = time.perf_counter()
        for epoch in range(self.first, self.t.epochs + 1):
            if self.stopped:
                break
            record = self.epoch(epoch)
            self.history.append(record)
            self.track_best(epoch, record)
            if self.hooks.checkpoint is not None:
                self.hooks.checkpoint(self.state(epoch))
            if self.hooks.progress:
                self.hooks.progress(EpochEnd(epoch, self.t.epochs, record, self.best_epoch,
                                             self.stopped))  # fmt: skip
        self.model.backend.xp.copyto(self.model.flat, self.best_flat)
        return FitResult(self.history, self.best_epoch, self.stopped,
                         earlier + time.perf_counter() - started, self.best_value)  # fmt: skip

    def epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch and measure it; TrainingDiverged (state rolled back) if it blew up."""
        t, d, model, opt = self.t, self.data, self.model, self.optimizer
        xp = model.backend.xp
        shown = math.ceil(len(d.train_idx) / t.batch_size)
        progress = self.hooks.progress
        if progress:
            progress(EpochStart(epoch, t.epochs, shown))
        on_batch = (lambda b: progress(BatchEnd(epoch, b + 1, shown))) if progress else None
        start = time.perf_counter()
        opt.lr = scheduled_lr(t.schedule, self.base_lr, epoch, t.epochs)
        order = d.train_idx[self.rngs.shuffle.permutation(len(d.train_idx))]
        snapshot = self._snapshot()
        # Overflow in exp/matmul shows up as inf/nan in the loss, which is checked below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.runner is not None:
                # Guarded graph mode (cuda/guard.py): advances opt.steps, falls back to eager.
                sums = self.runner.run(order, opt.lr, on_batch)  # (loss sum, hits) if running
            else:
                sums = train_epoch(model, opt, d.X, d.y, order, t.batch_size, t.loss_norm,
                                   on_batch, reg=self.reg, running=self.running)  # fmt: skip
            tr, va = self._measure(sums)
            finite = bool(xp.isfinite(model.flat).all())  # one sync per epoch
        if not (finite and math.isfinite(tr.loss) and (va is None or math.isfinite(va.loss))):
            self._diverged(epoch, order, snapshot)
        blown = exploded(tr.loss, va.loss if va else None)
        if blown is not None:
            raise exploded_error(epoch, *blown, d.n_classes, opt.lr, model.init,
                                 self.hooks.checkpoint is not None)  # fmt: skip
        return {
            "epoch": epoch,
            "train_loss": tr.loss,
            "train_accuracy": tr.accuracy,
            "val_loss": va.loss if va else math.nan,
            "val_accuracy": va.accuracy if va else math.nan,
            "lr": opt.lr,
            "seconds": time.perf_counter() - start,
        }

    def _measure(self, sums) -> tuple[Evaluation, Evaluation | None]:
        d, be = self.data, self.model.backend
        if sums is not None:
            n = len(d.train_idx)
            tr = Evaluation(be.to_float(sums[0]) / n, be.to_float(sums[1]) / n, n)
        else:
            tr = evaluate(self.model, d.X, d.y, d.train_rows)
        va = evaluate(self.model, d.X, d.y, d.val_rows) if len(d.val_idx) else None
        return tr, va

    def _snapshot(self) -> dict:
        """What a replay of this epoch needs: parameters, optimizer state, generator states."""
        return {
            "flat": self.model.flat.copy(),
            "opt": {k: v.copy() for k, v in self.optimizer.state.items()},
            "steps": self.optimizer.steps,
            "rngs": {k: v for k, v in self.rngs.states().items() if k != "shuffle"},
        }

    def _diverged(self, epoch: int, order: np.ndarray, snap: dict) -> None:
        model, opt, t, xp = self.model, self.optimizer, self.t, self.model.backend.xp
        xp.copyto(model.flat, snap["flat"])
        for k, v in snap["opt"].items():
            xp.copyto(opt.state[k], v)
        opt.steps = snap["steps"]
        self.rngs.restore(snap["rngs"])
        where = locate_divergence(model, opt, self.data.X, self.data.y, order, t.batch_size,
                                  t.loss_norm, self.reg)  # fmt: skip
        raise diverged_error(epoch, where, opt.lr, model.init, self.hooks.checkpoint is not None)

    def track_best(self, epoch: int, record: dict[str, float]) -> None:
        t = self.t
        if not len(self.data.val_idx):  # no validation split: the last epoch is the result
            value = -float(epoch)
        else:
            value = record["val_loss"] if t.monitor == "val_loss" else -record["val_accuracy"]
        if value < self.best_value:
            self.best_value, self.best_epoch = value, epoch
            self.model.backend.xp.copyto(self.best_flat, self.model.flat)
        self.stopped = early_stopped(epoch, self.best_epoch, t.patience, t.epochs)

    def state(self, epoch: int) -> TrainState:
        be, opt = self.model.backend, self.optimizer
        return TrainState(
            epoch=epoch,
            flat=be.to_numpy(self.model.flat),
            best_flat=be.to_numpy(self.best_flat),
            best_value=self.best_value,
            best_epoch=self.best_epoch,
            stopped=self.stopped,
            optimizer=opt.name,
            opt_state={k: be.to_numpy(v) for k, v in opt.state.items()},
            opt_steps=opt.steps,
            history=self.history,
            rng_states=self.rngs.states(),
            config_toml=self.config.to_toml(),
        )
