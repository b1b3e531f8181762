"""Training: the epoch loop, evaluation, early stopping with best-weight restore, and history.

Progress reaches a caller through `progress(event)`; metrics are read from the device once per
epoch, never inside the batch loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .backend import Array, Backend, get_backend
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
) -> None:
    """One pass of mini-batch SGD over X[order] (the last batch may be smaller); with dropout,
    the hidden-unit masks come from dropout_rng."""
    backend = model.backend
    order_dev = backend.asarray(order)  # one transfer per epoch
    n = len(order)
    batch_x = backend.empty((min(batch_size, n), X.shape[1]), dtype=X.dtype)
    for b, start in enumerate(range(0, n, batch_size)):
        idx = order_dev[start : start + batch_size]
        x = backend.take_rows(X, idx, batch_x[: len(idx)])
        logits, backward = model.forward(x, dropout=dropout, rng=dropout_rng)
        _, dlogits = softmax_cross_entropy(logits, y.take(idx), loss_norm, need_loss=False)
        backward(dlogits)
        optimizer.step()
        if on_batch is not None:
            on_batch(b)


def fit(
    model: MLP,
    data: Prepared,
    config: Config,
    rng: np.random.Generator,
    progress: Progress | None = None,
    dropout_rng: np.random.Generator | None = None,
    graph: bool | None = None,
) -> FitResult:
    """Train `model` on data.train_idx, early-stopping on data.val_idx; restores the best weights.

    The best epoch is the one with the highest validation accuracy (or lowest validation loss,
    per training.monitor); ties keep the earlier epoch. patience = 0 runs every epoch and still
    restores the best weights, as the study did; patience = k stops after k epochs without
    improvement.

    graph: on CUDA, capture each epoch as one CUDA graph (graph.py); None = wherever it applies
    (a Notice says why not when it does not), False = always eager.
    """
    from .graph import GraphEpoch, graph_plan

    t = config.training
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
    history: list[dict[str, float]] = []
    best_value, best_epoch, best_flat = math.inf, 0, model.flat.copy()
    stopped = False
    start_all = time.perf_counter()
    for epoch in range(1, t.epochs + 1):
        shown = 1 if runner is not None else n_batches  # a graph replays the epoch at once
        if progress:
            progress(EpochStart(epoch, t.epochs, shown))
        on_batch = (
            (lambda b, e=epoch, s=shown: progress(BatchEnd(e, b + 1, s))) if progress else None
        )
        start = time.perf_counter()
        optimizer.lr = scheduled_lr(t.schedule, t.lr, epoch, t.epochs)
        order = data.train_idx[rng.permutation(len(data.train_idx))]
        # Overflow in exp/matmul shows up as inf/nan in the loss, which is checked below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if runner is not None:
                runner.run(order, optimizer.lr)
                if on_batch is not None:
                    on_batch(0)  # one replay per epoch, so one "batch" event
            else:
                train_epoch(
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
                )
            tr = evaluate(model, data.X, data.y, data.train_rows)
            va = evaluate(model, data.X, data.y, data.val_rows)
        record = {
            "epoch": epoch,
            "train_loss": tr.loss,
            "train_accuracy": tr.accuracy,
            "val_loss": va.loss,
            "val_accuracy": va.accuracy,
            "lr": optimizer.lr,
            "seconds": time.perf_counter() - start,
        }
        history.append(record)
        if not (math.isfinite(tr.loss) and math.isfinite(va.loss)):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}: train loss {tr.loss}, validation loss "
                f"{va.loss}; lower the learning rate (now {t.lr}) or use --init xavier"
            )
        value = va.loss if t.monitor == "val_loss" else -va.accuracy
        if value < best_value:
            best_value, best_epoch = value, epoch
            xp.copyto(best_flat, model.flat)
        stopped = t.patience > 0 and epoch - best_epoch >= t.patience and epoch < t.epochs
        if progress:
            progress(EpochEnd(epoch, t.epochs, record, best_epoch, stopped))
        if stopped:
            break
    xp.copyto(model.flat, best_flat)
    return FitResult(history, best_epoch, stopped, time.perf_counter() - start_all)


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
) -> TrainResult:
    """Load data, build the model, fit, and evaluate the best weights on validation and test.

    graph: CUDA-graph epochs on CUDA (None: wherever they apply; False: eager), see graph.py.
    """
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
    result = fit(model, data, config, shuffle_rng, progress, dropout_rng, graph)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        val = evaluate(model, data.X, data.y, data.val_rows)
        test = evaluate(model, data.X_test, data.y_test)
    return TrainResult(model, config, result, data, val, test, backend)
