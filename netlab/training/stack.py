"""Training runs as one stack (nn/stack.py): K configs that differ only in what each model may
hold for itself train as one computation, and each run ends with the history, best weights and
evaluations it would have alone (up to the rounding the stack's tests state).

Per model: seed (split, initial weights, batch order, dropout masks), init, epochs, patience,
monitor, learning rate and schedule, the optimizer's numeric settings (momentum, L2, betas, ...),
dropout and input dropout. Shared by a stack (`stack_key`): layer sizes, activation, batch size,
optimizer and its true-or-false settings, loss normalization, label smoothing, dtype and data.
Runs with augmentation, or with an optimizer that does not declare itself stackable, train alone.

Early stopping, best-weight restore and the divergence checks are per model: a run that stops,
ends its epochs or diverges leaves the stack at the end of that epoch (the others' numbers do not
change: no model reads another's row), and a diverged run fails with the error it would raise
alone (the first bad batch found by replaying its epoch alone). Each epoch's `seconds` in a run's
history is the stack's epoch time divided by the models it trained.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..config import Config
from ..errors import ConfigError, NetlabError
from ..nn.backend import Backend, get_backend
from ..nn.layers import MLP
from ..nn.losses import softmax_cross_entropy
from ..nn.optimizers import OPTIMIZERS, make_optimizer, optimizer_settings
from ..nn.schedules import scheduled_lr
from ..nn.stack import MLPStack, stacked_optimizer
from .checkpoint import TrainState
from .divergence import diverged_error, exploded, exploded_error
from .epoch import Regularizers, locate_divergence
from .evaluation import evaluate, evaluate_stack
from .loop import FitResult, early_stopped, seeded_rngs
from .run import TrainResult, build_model, load_prepared
from .stack_members import Member, finite, row_state, stack_key


def train_stack(
    configs: Sequence[Config],
    device: str = "cpu",
    backend: Backend | None = None,
    *,
    resume: Sequence[TrainState | None] | None = None,
    checkpoint: Callable[[int, TrainState], None] | None = None,
) -> list[TrainResult | NetlabError]:
    """Train `configs` (runs of one stack_key) as one stack; each run's TrainResult as
    training.run.train returns it alone, or the NetlabError that run raised.

    checkpoint(i, state) is called after every epoch for each run i that trained it (its
    TrainState, as a run alone checkpoints); resume continues from such states (None: from the
    start; every run still training must be at one epoch), so the finished stack is bit-identical
    to an uninterrupted one of the same runs."""
    configs = [c.resolved() for c in configs]
    keys = {stack_key(c) for c in configs}
    if None in keys or len(keys) != 1:
        raise ConfigError("runs of one stack must share layer sizes, activation, batch size, "
                          "optimizer, loss, dtype and data, and use no augmentation")  # fmt: skip
    backend = backend or get_backend(device, configs[0].training.dtype)
    trainer = StackTrainer(configs, backend, checkpoint)
    if resume is not None:
        trainer.restore(resume)
    trainer.run()
    return trainer.results()


class StackTrainer:
    """The state of one stacked fit: the stack, its optimizer, each member's best weights."""

    def __init__(
        self, configs: Sequence[Config], backend: Backend,
        checkpoint: Callable[[int, TrainState], None] | None = None,
    ) -> None:  # fmt: skip
        self.backend, self.checkpoint, self.first = backend, checkpoint, 1
        prepared: dict[int, Any] = {}  # seed -> Prepared: one split and normalization per seed
        self.members: list[Member] = []
        states = []
        for c in configs:
            rngs = seeded_rngs(c.training.seed)
            data = prepared.get(c.training.seed)
            if data is None:
                data = prepared[c.training.seed] = load_prepared(c, backend, rngs.split)
            if c.training.batch_size > len(data.train_idx):
                raise ConfigError(
                    f"training.batch_size must be at most the training split size "
                    f"({len(data.train_idx)}); got {c.training.batch_size}"
                )
            states.append(build_model(c, data.n_features, data.n_classes, rngs.init,
                                      backend).state())  # fmt: skip
            lr = OPTIMIZERS.get(c.training.optimizer).default_lr
            self.members.append(Member(c, rngs, data, float(c.training.lr or lr)))
        m, t = configs[0].model, configs[0].training
        d0 = self.members[0].data
        self.sizes = [d0.n_features, *m.hidden, d0.n_classes]
        self.stack = MLPStack(self.sizes, m.activation, states, leaky_slope=m.leaky_slope,
                              inits=[c.model.init for c in configs], backend=backend)  # fmt: skip
        self.rows = list(range(len(self.members)))  # stack row k holds members[rows[k]]
        self.optimizer = stacked_optimizer(
            t.optimizer,
            self.stack,
            [mb.base_lr for mb in self.members],
            [optimizer_settings(t.optimizer, vars(c.training)) for c in configs],
        )
        self.best = self.stack.flat.copy()
        self.final: dict[int, np.ndarray] = {}  # member -> best weights, once it left the stack

    def restore(self, states: Sequence[TrainState | None]) -> None:
        """Continue from each run's checkpointed state (ConfigError when the runs still
        training are not all at one epoch, or a state's optimizer differs)."""
        be, opt = self.backend, self.optimizer
        going = {s.epoch for m, s in zip(self.members, states, strict=True)
                 if s is not None and not s.stopped and s.epoch < m.t.epochs}  # fmt: skip
        fresh = any(s is None for s in states)
        if len(going) > 1 or (going and fresh):
            none = " and none" if fresh else ""
            raise ConfigError("the runs of a stack must resume from one epoch; got checkpoints "
                              f"of epochs {sorted(going)}{none}")  # fmt: skip
        for k, (m, state) in enumerate(zip(self.members, states, strict=True)):
            if state is None:
                continue
            if state.optimizer != opt.name or set(state.opt_state) != set(opt.state):
                raise ConfigError(f"a checkpoint holds the state of optimizer {state.optimizer!r}, "
                                  f"the stack uses {opt.name!r}")  # fmt: skip
            self.stack.flat[k] = be.asarray(state.flat)
            self.best[k] = be.asarray(state.best_flat)
            for name, a in state.opt_state.items():
                opt.state[name][k] = be.asarray(a)
            m.history = [dict(r) for r in state.history]
            m.best_value, m.best_epoch = state.best_value, state.best_epoch
            m.stopped = state.stopped
            m.seconds = sum(float(r.get("seconds", 0.0)) for r in m.history)
            m.rngs.restore(state.rng_states)
            if state.epoch in going:
                opt.steps = state.opt_steps
        self.first = going.pop() + 1 if going else 1 + max(
            (s.epoch for s in states if s is not None), default=0)  # fmt: skip

    def run(self) -> None:
        last = max(mb.t.epochs for mb in self.members)
        for epoch in range(self.first, last + 1):
            keep = [k for k, i in enumerate(self.rows) if self.members[i].active(epoch)]
            if not keep:
                break
            if len(keep) < len(self.rows):
                self._leave(keep)
            self.epoch(epoch)

    def _leave(self, keep: list[int]) -> None:
        """Drop the stack's rows not in `keep` (their members are done or failed), keeping the
        best weights of those that are done."""
        opt, be = self.optimizer, self.backend
        for k, i in enumerate(self.rows):
            if k not in keep and self.members[i].error is None:
                self.final[i] = be.to_numpy(self.best[k])
        rows = be.asarray(np.asarray(keep, dtype=np.int64))
        self.stack = self.stack.select(keep)
        self.best = self.best[rows]
        opt.flat, opt.grad_flat = self.stack.flat, self.stack.grad_flat
        opt.state = {name: buf[rows] for name, buf in opt.state.items()}
        for key in ("lr", *opt.hyper):
            value = getattr(opt, key)
            if isinstance(value, np.ndarray):
                setattr(opt, key, value[keep])
        self.rows = [self.rows[k] for k in keep]

    def _batches(self, members: list[Member], orders: list[np.ndarray]):
        """(x, y) per batch: x (B, n_in) when every model reads the same batch (one data, one
        order), else (K, B, n_in) gathered per model into one buffer."""
        be, xp = self.backend, self.backend.xp
        first = members[0]
        n, bs = len(orders[0]), first.t.batch_size
        shared = all(m.data is first.data for m in members) and all(
            np.array_equal(o, orders[0]) for o in orders[1:]
        )
        if shared:
            order = be.asarray(orders[0])
            buf = be.empty((min(bs, n), first.data.n_features), dtype=first.data.X.dtype)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                yield be.take_rows(first.data.X, idx, buf[: len(idx)]), first.data.y.take(idx)
            return
        devs = [be.asarray(o) for o in orders]
        K = len(members)
        buf = be.empty((K, min(bs, n), first.data.n_features), dtype=first.data.X.dtype)
        for start in range(0, n, bs):
            idxs = [o[start : start + bs] for o in devs]
            b = len(idxs[0])
            for k, (m, idx) in enumerate(zip(members, idxs, strict=True)):
                be.take_rows(m.data.X, idx, buf[k, :b])
            yield (
                buf[:, :b],
                xp.stack([m.data.y.take(idx) for m, idx in zip(members, idxs, strict=True)]),
            )

    def epoch(self, epoch: int) -> None:
        members = [self.members[i] for i in self.rows]
        opt, stack = self.optimizer, self.stack
        start = time.perf_counter()
        lrs = [scheduled_lr(m.t.schedule, m.base_lr, epoch, m.t.epochs) for m in members]
        opt.lr = np.array(lrs, dtype=np.float64).reshape(-1, 1)
        orders = [m.data.train_idx[m.rngs.shuffle.permutation(len(m.data.train_idx))]
                  for m in members]  # fmt: skip
        snapshot = self._snapshot(members)
        t0 = members[0].t
        dropout = [m.t.dropout for m in members]
        input_dropout = [m.t.input_dropout for m in members]
        rngs = [m.rngs.dropout for m in members]
        fuse = opt.fuses(t0.batch_size)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for x, yb in self._batches(members, orders):
                logits, backward = stack.forward(x, dropout=dropout, input_dropout=input_dropout,
                                                 rngs=rngs)  # fmt: skip
                _, dlogits = softmax_cross_entropy(logits, yb, t0.loss_norm, need_loss=False,
                                                   smoothing=t0.label_smoothing)  # fmt: skip
                factors = backward(dlogits, first_factors=fuse)
                opt.step(factors if fuse else None)
            ok = self.backend.to_numpy(self.backend.xp.isfinite(stack.flat).all(axis=1))
            measured = self._measure_all(members, ok)
        share = (time.perf_counter() - start) / len(members)
        for k, (m, lr, got) in enumerate(zip(members, lrs, measured, strict=True)):
            if got is None:
                m.error = self._diverged(k, m, epoch, lr, orders[k], snapshot)
                continue
            tr, va = got
            blown = exploded(tr.loss, va.loss if va else None)
            if blown is not None:
                m.error = exploded_error(epoch, *blown, m.data.n_classes, lr, m.config.model.init,
                                         False)  # fmt: skip
                continue
            record = {
                "epoch": epoch,
                "train_loss": tr.loss,
                "train_accuracy": tr.accuracy,
                "val_loss": va.loss if va else math.nan,
                "val_accuracy": va.accuracy if va else math.nan,
                "lr": lr,
                "seconds": share,
            }
            m.history.append(record)
            m.seconds += share
            self._track_best(k, m, epoch, record)
            if self.checkpoint is not None:
                self.checkpoint(self.rows[k], self._state(k, m, epoch))

    def _measure_all(self, members: list[Member], ok: np.ndarray) -> list:
        """Each row's (train, validation) evaluations, or None where its parameters or losses
        are not finite: one stacked pass when all read the same data and all are finite, else
        each row as the model alone measures it."""
        d = members[0].data
        if ok.all() and all(m.data is d for m in members):
            trs = evaluate_stack(self.stack, d.X, d.y, d.train_rows)
            vas = evaluate_stack(self.stack, d.X, d.y, d.val_rows) if len(d.val_idx) else None
            pairs = [(tr, vas[k] if vas else None) for k, tr in enumerate(trs)]
        else:
            pairs = [self._measure(k, m) if ok[k] else None for k, m in enumerate(members)]
        return [None if p is None or not finite(*p) else p for p in pairs]

    def _measure(self, k: int, m: Member):
        model, d = self.stack.member(k), m.data
        tr = evaluate(model, d.X, d.y, d.train_rows)
        va = evaluate(model, d.X, d.y, d.val_rows) if len(d.val_idx) else None
        return tr, va

    def _track_best(self, k: int, m: Member, epoch: int, record: dict[str, float]) -> None:
        if not len(m.data.val_idx):
            value = -float(epoch)
        else:
            value = record["val_loss"] if m.t.monitor == "val_loss" else -record["val_accuracy"]
        if value < m.best_value:
            m.best_value, m.best_epoch = value, epoch
            self.backend.xp.copyto(self.best[k], self.stack.flat[k])
        m.stopped = early_stopped(epoch, m.best_epoch, m.t.patience, m.t.epochs)

    def _state(self, k: int, m: Member, epoch: int) -> TrainState:
        """Row k's run after `epoch`, as a run alone checkpoints it."""
        be, opt = self.backend, self.optimizer
        return TrainState(
            epoch=epoch, flat=be.to_numpy(self.stack.flat[k]), best_flat=be.to_numpy(self.best[k]),
            best_value=m.best_value, best_epoch=m.best_epoch, stopped=m.stopped,
            optimizer=opt.name, opt_state={n: be.to_numpy(v[k]) for n, v in opt.state.items()},
            opt_steps=opt.steps, history=m.history, rng_states=m.rngs.states(),
            config_toml=m.config.to_toml(),
        )  # fmt: skip

    def _snapshot(self, members: list[Member]) -> dict:
        """What replaying one model's epoch alone needs: parameters, optimizer state, steps and
        its generators (but the shuffle, whose permutation the epoch already drew)."""
        return {
            "flat": self.stack.flat.copy(),
            "opt": {k: v.copy() for k, v in self.optimizer.state.items()},
            "steps": self.optimizer.steps,
            "rngs": [
                {k: v for k, v in m.rngs.states().items() if k != "shuffle"} for m in members
            ],  # fmt: skip
        }

    def _diverged(self, k, m: Member, epoch: int, lr: float, order, snap) -> NetlabError:
        """The error model k raises alone: its epoch replayed alone from the snapshot."""
        be, t = self.backend, m.t
        alone = MLP(self.sizes, m.config.model.activation, leaky_slope=m.config.model.leaky_slope,
                    init=m.config.model.init, backend=be,
                    state=row_state(self.sizes, be.to_numpy(snap["flat"][k])))  # fmt: skip
        opt = make_optimizer(t.optimizer, alone, lr, vars(t))
        for name, buf in snap["opt"].items():
            opt.state[name][...] = buf[k]
        opt.steps = snap["steps"]
        m.rngs.restore(snap["rngs"][k])
        reg = Regularizers.from_config(t, m.rngs)
        where = locate_divergence(alone, opt, m.data.X, m.data.y, order, t.batch_size,
                                  t.loss_norm, reg)  # fmt: skip
        return diverged_error(epoch, where, lr, m.config.model.init, False)

    def results(self) -> list[TrainResult | NetlabError]:
        """Each member's result with its best weights (as training.run.train returns it)."""
        out: list[TrainResult | NetlabError] = []
        best = {i: self.backend.to_numpy(self.best[k]) for k, i in enumerate(self.rows)}
        best.update(self.final)
        for i, m in enumerate(self.members):
            if m.error is not None:
                out.append(m.error)
                continue
            c = m.config
            model = MLP(self.sizes, c.model.activation, leaky_slope=c.model.leaky_slope,
                        init=c.model.init, backend=self.backend,
                        state=row_state(self.sizes, best[i]))  # fmt: skip
            fit = FitResult(m.history, m.best_epoch, m.stopped, m.seconds, m.best_value)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                val = evaluate(model, m.data.X, m.data.y, m.data.val_rows)
                test = evaluate(model, m.data.X_test, m.data.y_test)
            out.append(TrainResult(model, c, fit, m.data, val, test, self.backend))
        return out
