"""Evaluation: loss and accuracy of a model over a split, and the `netlab eval` report of a model
file on any compatible data source (loss, accuracy, per-class accuracy, confusion matrix)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..nn.arrays import Array
from ..nn.layers import MLP
from ..nn.losses import log_softmax

EVAL_BATCH = 8192
# A stack's evaluation chunk: its (K, rows, n1) activations stay near a core's cache. Measured,
# K = 16 baseline models on the 48,000 training rows (2-core Intel Xeon, one BLAS thread): 0.68 s
# in chunks of 1,024 rows, 0.75 s in chunks of 8,192.
STACK_EVAL_BATCH = 1024


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


def evaluate_stack(stack: Any, X: Array, y: Array, rows: slice) -> list[Evaluation]:
    """evaluate() of each model of a stack (nn/stack.py) on the rows X[rows] all of them read:
    one stacked forward per chunk instead of K."""
    backend = stack.backend
    xp = backend.xp
    X, y = X[rows], y[rows]
    n, K = len(X), stack.K
    loss_sum = xp.zeros(K, dtype=np.float64)
    correct = xp.zeros(K, dtype=np.int64)
    for start in range(0, n, STACK_EVAL_BATCH):
        xb, yb = X[start : start + STACK_EVAL_BATCH], y[start : start + STACK_EVAL_BATCH]
        logp = log_softmax(stack.logits(xb))  # (K, b, classes)
        picked = xp.take_along_axis(logp, xp.broadcast_to(yb[None, :, None], (K, len(yb), 1)), 2)
        loss_sum -= picked[..., 0].sum(axis=1, dtype=np.float64)
        correct += (logp.argmax(axis=2) == yb).sum(axis=1)
    if n == 0:
        return [Evaluation(math.nan, math.nan, 0) for _ in range(K)]
    loss, right = backend.to_numpy(loss_sum), backend.to_numpy(correct)
    return [Evaluation(float(loss[k]) / n, float(right[k]) / n, n) for k in range(K)]


def weight_penalty(model: MLP, l2: float) -> float:
    """l2 * sum of squared weights: what the study's loss adds when it includes its L2 term."""
    w = model.flat[: model.n_weights]
    return float(l2) * model.backend.to_float((w.astype(np.float64) ** 2).sum())


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64: rows are true classes, columns predicted classes."""
    return np.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def evaluate_model_file(
    path: str | Path,
    device: str = "cpu",
    source: str | None = None,
    location: str | None = None,
    l2_penalty: float | None = None,
) -> dict[str, Any]:
    """Everything `netlab eval` reports, as plain Python data (test split of `source`, by default
    the source the model was trained on). l2_penalty=λ also reports test loss + λ·Σw² (the
    study's reading of a loss that includes its L2 term; None: the model's own training l2)."""
    from ..data.prepare import normalize_inputs
    from ..data.sources import DATA_SOURCES, load_data
    from ..files.model import load_model

    path = Path(path)
    loaded = load_model(path, device)  # in the dtype the model was trained in
    backend = loaded.model.backend
    source, location, trained = _choose_data(loaded.meta, source, location)
    data = load_data(source, location)
    n_out = loaded.model.sizes[-1]
    _check_fits(loaded.model, data, source)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf/NaN: null in JSON
        X = normalize_inputs(
            data.x_test, loaded.mean, loaded.std, backend.dtype, loaded.input_scale
        )
        result = evaluate(
            loaded.model, backend.asarray(X), backend.asarray(data.y_test), predictions=True
        )
    names = list(loaded.class_names)
    cm = confusion_matrix(data.y_test, result.predictions, n_out)
    per_class = (np.diag(cm) / np.maximum(cm.sum(axis=1), 1)).tolist()
    report = {
        "model": str(path),
        "split": "test",
        "data_source": source if source in DATA_SOURCES else trained["source"],
        "data": str(data.location),
        "n_test": result.n,
        "test_loss": result.loss,
        "test_accuracy": result.accuracy,
        "class_names": names,
        "per_class_accuracy": dict(zip(names, per_class, strict=True)),
        "confusion_matrix": cm.tolist(),
        "device": backend.device,
    }
    lam = trained["l2"] if l2_penalty is None else l2_penalty
    if l2_penalty is not None or lam:
        penalty = weight_penalty(loaded.model, lam)
        report["l2"] = lam
        report["l2_penalty"] = penalty
        report["test_loss_with_l2_penalty"] = result.loss + penalty
    return report


def _choose_data(
    meta: dict[str, Any], source: str | None, location: str | None
) -> tuple[str, str | None, dict[str, Any]]:
    """(source, location, trained): by default the source and location the model was trained on
    (`trained`, see _trained_data; for a given source, its own defaults and no l2)."""
    trained = (
        _trained_data(meta) if source is None else {"source": source, "location": "", "l2": 0.0}
    )
    if source is None:
        source = trained["source"]
    if location is None and source == trained["source"]:
        location = trained["location"] or None
    return source, location, trained


def _check_fits(model: MLP, data: Any, source: str) -> None:
    """A DataError unless the model takes the data's inputs and predicts all of its classes."""
    n_in, n_out = model.sizes[0], model.sizes[-1]
    if data.n_features != n_in:
        raise DataError(
            f"the model expects {n_in} input features, the {source} test examples have "
            f"{data.n_features}; evaluate it on data like the data it was trained on"
        )
    if len(data.class_names) > n_out:
        raise DataError(
            f"the {source} data have {len(data.class_names)} classes, the model predicts {n_out}"
        )


def _trained_data(meta: dict[str, Any]) -> dict[str, Any]:
    """The source, its location and the l2 a model was trained with (old files: Fashion-MNIST)."""
    from ..data.sources import DATA_SOURCES

    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    source = meta.get("data_source") or data.get("source") or "fashion-mnist"
    if not isinstance(source, str) or source not in DATA_SOURCES:
        raise DataError(
            f"the model was trained on data source {source!r}, which this netlab does not know; "
            f"pass --data with one of {DATA_SOURCES.choices()}"
        )
    takes_file = DATA_SOURCES.get(source).takes == "file"
    location = data.get("path" if takes_file else "dir")
    l2 = training.get("l2", 0.0)
    return {
        "source": source,
        "location": location if isinstance(location, str) else "",
        "l2": float(l2) if isinstance(l2, (int, float)) and not isinstance(l2, bool) else 0.0,
    }
