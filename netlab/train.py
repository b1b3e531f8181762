"""Training: the epoch loop, evaluation, early stopping with best-weight restore, and history.

Progress reaches a caller through `progress(event)`; metrics are read from the device once per
epoch, never inside the batch loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .backend import Array, Backend, get_backend
from .checkpoint import TrainState
from .config import Config
from .data import N_CLASSES, Prepared, load_raw, prepare
from .errors import ConfigError, TrainingDiverged
from .layers import MLP
from .losses import log_softmax, softmax_cross_entropy
from .optim import SGD, scheduled_lr
from .progress import BatchEnd, EpochEnd, EpochStart, Notice, Progress

HISTORY_FIELDS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
)
EVAL_BATCH = 8192


@dataclass
class Evaluation:
    """Mean cross-entropy and accuracy over a split, plus predictions when asked for."""

    loss: float
    accuracy: float
    n: int
    predictions: np.ndarray | None = None


def evaluate(
    model: MLP,
    X: Array,
    y: Array,
    rows: np.ndarray | slice | None = None,
    *,
    batch_size: int = EVAL_BATCH,
    predictions: bool = False,
) -> Evaluation:
    """Loss and accuracy of `model` on X[rows], y[rows] (all rows when None), in chunks.

    One host sync at the end; cross-entropy via log-softmax, so it is finite unless logits are.
    """
    backend = model.backend
    xp = backend.xp
    if isinstance(rows, slice):  # a contiguous split: views, no gather
        X, y, rows = X[rows], y[rows], None
    n = len(X) if rows is None else len(rows)
    loss_sum = xp.zeros((), dtype=np.float64)
    correct = xp.zeros((), dtype=np.int64)
    preds = []
    for start in range(0, n, batch_size):
        if rows is None:
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = backend.asarray(rows[start : start + batch_size])
            xb, yb = X[idx], y[idx]
        logp = log_softmax(model.logits(xb))
        loss_sum -= logp[xp.arange(len(yb)), yb].sum(dtype=np.float64)
        p = logp.argmax(axis=1)
        correct += (p == yb).sum()
        if predictions:
            preds.append(p)
    pred_host = backend.to_numpy(xp.concatenate(preds)) if predictions and preds else None
    if n == 0:
        return Evaluation(math.nan, math.nan, 0, pred_host)
    return Evaluation(backend.to_float(loss_sum) / n, backend.to_float(correct) / n, n, pred_host)


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    seconds: float


def train_epoch(
    model: MLP,
    optimizer: SGD,
    X: Array,
    y: Array,
    order: np.ndarray,
    batch_size: int,
    loss_norm: str,
    on_batch: Callable[[int], None] | None = None,
    *,
    dropout: float = 0.0,
    dropout_rng: np.random.Generator | None = None,
    running: bool = False,
) -> tuple[Array, Array] | None:
    """One pass of mini-batch SGD over X[order] (the last batch may be smaller); with dropout,
    the hidden-unit masks come from dropout_rng.

    running=True also returns (sum of the batches' cross-entropy, number right) as device
    scalars, measured on each batch before its update (as scikit-learn's loss_curve_ is): cheaper
    than a full pass over the training split after the epoch, and not the same number.
    """
    backend = model.backend
    xp = backend.xp
    order_dev = backend.asarray(order)  # one transfer per epoch
    n = len(order)
    batch_x = backend.empty((min(batch_size, n), X.shape[1]), dtype=X.dtype)
    loss_sum = xp.zeros((), dtype=np.float64) if running else None
    correct = xp.zeros((), dtype=np.int64) if running else None
    for b, start in enumerate(range(0, n, batch_size)):
        idx = order_dev[start : start + batch_size]
        x = backend.take_rows(X, idx, batch_x[: len(idx)])
        yb = y.take(idx)
        logits, backward = model.forward(x, dropout=dropout, rng=dropout_rng)
        if running:
            correct += (logits.argmax(axis=1) == yb).sum()
        loss, dlogits = softmax_cross_entropy(logits, yb, loss_norm, need_loss=running)
        if running:
            loss_sum += loss * len(idx)
        backward(dlogits)
        optimizer.step()
        if on_batch is not None:
            on_batch(b)
    return (loss_sum, correct) if running else None


def fit(
    model: MLP,
    data: Prepared,
    config: Config,
    rng: np.random.Generator,
    progress: Progress | None = None,
    dropout_rng: np.random.Generator | None = None,
    graph: bool | None = None,
    checkpoint: Callable[[TrainState], None] | None = None,
    resume: TrainState | None = None,
    on_start: Callable[[], None] | None = None,
    train_metrics: str = "exact",
) -> FitResult:
    """Train `model` on data.train_idx, early-stopping on data.val_idx; restores the best weights.

    The best epoch is the one with the highest validation accuracy (or lowest validation loss,
    per training.monitor); ties keep the earlier epoch. Without a validation split (an empty
    data.val_idx, as the scikit-learn estimator trains without early stopping) it is the last.
    patience = 0 runs every epoch and still
    restores the best weights, as the study did; patience = k stops after k epochs without
    improvement.

    graph: on CUDA, capture each epoch as one CUDA graph (graph.py); None = wherever it applies
    (a Notice says why not when it does not), False = always eager.
    checkpoint: called with the complete state after every epoch (checkpoint.TrainState);
    resume: such a state to continue from (same config), giving bit-identical results on CPU.
    on_start: called once everything is validated, just before the first epoch (the CLI creates
    the run directory there, so a bad input leaves nothing behind).
    train_metrics: "exact" (a full pass over the training split after each epoch, what netlab
    reports everywhere) or "running" (the mean over the epoch's batches, each measured before its
    update; cheaper; the scikit-learn estimator's loss_curve_; eager training only).
    A NaN or Inf in the losses or the parameters raises TrainingDiverged naming the epoch and the
    first bad batch (found by replaying that epoch from its start), before any checkpoint of it.
    """
    from .graph import GraphEpoch, graph_plan

    t = config.training
    if train_metrics not in ("exact", "running"):
        raise ConfigError(f"train_metrics must be 'exact' or 'running'; got {train_metrics!r}")
    if t.batch_size > len(data.train_idx):
        raise ConfigError(
            f"training.batch_size must be at most the training split size "
            f"({len(data.train_idx)}); got {t.batch_size}"
        )
    optimizer = SGD(
        model.flat,
        model.grad_flat,
        model.n_weights,
        lr=t.lr,
        momentum=t.momentum,
        l2=t.l2,
        nesterov=t.nesterov,
        backend=model.backend,
    )
    xp = model.backend.xp
    n_batches = math.ceil(len(data.train_idx) / t.batch_size)
    use_graph, why = graph_plan(model.backend, model.sizes, t.dropout, graph)
    if why and progress:
        progress(Notice(why))
    runner = (
        GraphEpoch(model, optimizer, data.X, data.y, len(data.train_idx), t.batch_size, t.loss_norm)
        if use_graph
        else None
    )
    backend = model.backend
    has_val = len(data.val_idx) > 0
    history: list[dict[str, float]] = []
    best_value, best_epoch, best_flat = math.inf, 0, model.flat.copy()
    stopped, first = False, 1
    if resume is not None:
        for dst, src in ((model.flat, resume.flat), (optimizer.velocity, resume.velocity),
                         (best_flat, resume.best_flat)):  # fmt: skip
            dst[...] = backend.asarray(src)
        history = [dict(r) for r in resume.history]
        best_value, best_epoch, stopped = resume.best_value, resume.best_epoch, resume.stopped
        rng.bit_generator.state = resume.rng_states["shuffle"]
        if dropout_rng is not None and "dropout" in resume.rng_states:
            dropout_rng.bit_generator.state = resume.rng_states["dropout"]
        first = resume.epoch + 1
    start_flat, start_velocity = model.flat.copy(), optimizer.velocity.copy()  # for a replay
    if on_start is not None:
        on_start()
    start_all = time.perf_counter()
    for epoch in range(first, t.epochs + 1):
        if stopped:
            break
        shown = 1 if runner is not None else n_batches  # a graph replays the epoch at once
        if progress:
            progress(EpochStart(epoch, t.epochs, shown))
        on_batch = (
            (lambda b, e=epoch, s=shown: progress(BatchEnd(e, b + 1, s))) if progress else None
        )
        start = time.perf_counter()
        optimizer.lr = scheduled_lr(t.schedule, t.lr, epoch, t.epochs)
        order = data.train_idx[rng.permutation(len(data.train_idx))]
        xp.copyto(start_flat, model.flat)
        xp.copyto(start_velocity, optimizer.velocity)
        dropout_start = dropout_rng.bit_generator.state if dropout_rng is not None else None
        # Overflow in exp/matmul shows up as inf/nan in the loss, which is checked below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if runner is not None:
                runner.run(order, optimizer.lr)
                if on_batch is not None:
                    on_batch(0)  # one replay per epoch, so one "batch" event
                sums = None
            else:
                sums = train_epoch(
                    model,
                    optimizer,
                    data.X,
                    data.y,
                    order,
                    t.batch_size,
                    t.loss_norm,
                    on_batch,
                    dropout=t.dropout,
                    dropout_rng=dropout_rng,
                    running=train_metrics == "running",
                )
            if sums is not None:
                n_train = len(data.train_idx)
                tr = Evaluation(
                    backend.to_float(sums[0]) / n_train,
                    backend.to_float(sums[1]) / n_train,
                    n_train,
                )
            else:
                tr = evaluate(model, data.X, data.y, data.train_rows)
            va = evaluate(model, data.X, data.y, data.val_rows) if has_val else None
            finite = bool(xp.isfinite(model.flat).all())  # one sync per epoch
        if not (finite and math.isfinite(tr.loss) and (va is None or math.isfinite(va.loss))):
            xp.copyto(model.flat, start_flat)
            xp.copyto(optimizer.velocity, start_velocity)
            if dropout_rng is not None:
                dropout_rng.bit_generator.state = dropout_start
            where = locate_divergence(model, optimizer, data, order, t, dropout_rng)
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}{where}; lower the learning rate (now "
                f"{optimizer.lr:g}){' or use --init xavier' if model.init == 'normal' else ''}"
                + ("; the checkpoint of the last good epoch is kept" if checkpoint else "")
            )
        record = {
            "epoch": epoch,
            "train_loss": tr.loss,
            "train_accuracy": tr.accuracy,
            "val_loss": va.loss if va else math.nan,
            "val_accuracy": va.accuracy if va else math.nan,
            "lr": optimizer.lr,
            "seconds": time.perf_counter() - start,
        }
        history.append(record)
        if va is None:  # no validation split: the last epoch is the result
            value = -float(epoch)
        else:
            value = va.loss if t.monitor == "val_loss" else -va.accuracy
        if value < best_value:
            best_value, best_epoch = value, epoch
            xp.copyto(best_flat, model.flat)
        stopped = t.patience > 0 and epoch - best_epoch >= t.patience and epoch < t.epochs
        if checkpoint is not None:
            states = {"shuffle": rng.bit_generator.state}
            if dropout_rng is not None:
                states["dropout"] = dropout_rng.bit_generator.state
            checkpoint(
                TrainState(
                    epoch=epoch,
                    flat=backend.to_numpy(model.flat),
                    velocity=backend.to_numpy(optimizer.velocity),
                    best_flat=backend.to_numpy(best_flat),
                    best_value=best_value,
                    best_epoch=best_epoch,
                    stopped=stopped,
                    history=history,
                    rng_states=states,
                    config_toml=config.to_toml(),
                )
            )
        if progress:
            progress(EpochEnd(epoch, t.epochs, record, best_epoch, stopped))
    xp.copyto(model.flat, best_flat)
    return FitResult(history, best_epoch, stopped, time.perf_counter() - start_all)


def locate_divergence(
    model: MLP,
    optimizer: SGD,
    data: Prepared,
    order: np.ndarray,
    t: Any,
    dropout_rng: np.random.Generator | None,
) -> str:
    """Replay an epoch from its start, checking every batch (a sync per batch, only after a
    divergence): ", batch B of N: <what became non-finite>", or "" if the replay stays finite."""
    backend, xp = model.backend, model.backend.xp
    n = len(order)
    batches = math.ceil(n / t.batch_size)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for b, start in enumerate(range(0, n, t.batch_size)):
            idx = backend.asarray(order[start : start + t.batch_size])
            logits, backward = model.forward(data.X[idx], dropout=t.dropout, rng=dropout_rng)
            loss, dlogits = softmax_cross_entropy(logits, data.y[idx], t.loss_norm)
            value = backend.to_float(loss)
            if not math.isfinite(value):
                return f", batch {b + 1} of {batches}: the batch loss is {value}"
            backward(dlogits)
            optimizer.step()
            if not bool(xp.isfinite(model.flat).all()):
                for name, p in model.params.items():
                    bad = p[~xp.isfinite(p)]
                    if bad.size:
                        first = backend.to_float(bad[0])
                        return (
                            f", batch {b + 1} of {batches}: parameter {name} became {first} "
                            f"(batch loss {value:.4g})"
                        )
    return ""


@dataclass
class TrainResult:
    """Everything a run produces: the model (best weights), its history and final evaluations."""

    model: MLP
    config: Config
    fit: FitResult
    data: Prepared
    val: Evaluation
    test: Evaluation
    backend: Backend


def build_model(
    config: Config, n_in: int, n_out: int, rng: np.random.Generator, backend: Backend
) -> MLP:
    m = config.model
    return MLP(
        [n_in, *m.hidden, n_out],
        m.activation,
        leaky_slope=m.leaky_slope,
        init=m.init,
        rng=rng,
        backend=backend,
    )


def seeded_rngs(seed: int) -> tuple[np.random.Generator, ...]:
    """(split, init, shuffle, dropout) generators, all from one seed, independent of each other.

    Changing the model (init draws) or the dropout never changes the split or the batch order.
    """
    split, init, shuffle, dropout = np.random.default_rng(seed).spawn(4)
    return split, init, shuffle, dropout


def train(
    config: Config,
    device: str = "cpu",
    progress: Progress | None = None,
    graph: bool | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    on_start: Callable[[], None] | None = None,
) -> TrainResult:
    """Load data, build the model, fit, and evaluate the best weights on validation and test.

    graph: CUDA-graph epochs on CUDA (None: wherever they apply; False: eager), see graph.py.
    run_dir: write RUN_DIR/checkpoint.npz after every epoch; resume: continue from it (it must
    belong to this config), so the finished run is bit-identical to an uninterrupted one on CPU.
    """
    from .checkpoint import NAME, load_checkpoint, save_checkpoint

    state = None
    if resume:
        if run_dir is None:
            raise ConfigError("resume needs the run directory that holds the checkpoint")
        if (Path(run_dir) / NAME).exists() or (Path(run_dir) / "model.npz").exists():
            state = load_checkpoint(Path(run_dir) / NAME, config.to_toml())
        elif progress:  # killed during its first epoch: continuing is starting at epoch 1
            progress(Notice(f"{run_dir} has no checkpoint yet; training from epoch 1"))
    backend = get_backend(device, config.training.dtype)
    split_rng, init_rng, shuffle_rng, dropout_rng = seeded_rngs(config.training.seed)
    raw = load_raw(config.data.source, config.data.dir or None)
    data = prepare(
        raw,
        backend,
        val_fraction=config.data.val_fraction,
        normalization=config.data.normalization,
        rng=split_rng,
    )
    del raw
    model = build_model(config, data.n_features, N_CLASSES, init_rng, backend)
    save = (lambda st: save_checkpoint(Path(run_dir) / NAME, st)) if run_dir is not None else None
    result = fit(
        model, data, config, shuffle_rng, progress, dropout_rng, graph, save, state, on_start
    )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        val = evaluate(model, data.X, data.y, data.val_rows)
        test = evaluate(model, data.X_test, data.y_test)
    return TrainResult(model, config, result, data, val, test, backend)
