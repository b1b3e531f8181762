"""A saved model on the test split: loss, accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .data import CLASS_NAMES, N_CLASSES, SOURCES, load_raw, normalize_images
from .errors import DataError
from .io import load_model
from .train import evaluate


def confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, n_classes: int = N_CLASSES
) -> np.ndarray:
    """(n_classes, n_classes) int64: rows are true classes, columns predicted classes."""
    return np.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def evaluate_model_file(
    path: str | Path, device: str = "cpu", source: str | None = None, data_dir: str | None = None
) -> dict[str, Any]:
    """Everything `netlab eval` reports, as plain Python data (test split)."""
    path = Path(path)
    loaded = load_model(path, device)  # in the dtype the model was trained in
    backend = loaded.model.backend
    config = loaded.meta.get("config")
    data_cfg = config.get("data") if isinstance(config, dict) else None
    data_cfg = data_cfg if isinstance(data_cfg, dict) else {}
    trained_on = data_cfg.get("source") if data_cfg.get("source") in SOURCES else "fashion-mnist"
    source = source or trained_on
    trained_dir = data_cfg.get("dir") if isinstance(data_cfg.get("dir"), str) else ""
    if data_dir is None and source != "sample":
        data_dir = trained_dir or None
    raw = load_raw(source, data_dir)
    n_in = loaded.model.sizes[0]
    if raw.test_images[0].size != n_in:
        raise DataError(
            f"the model expects {n_in} inputs, the test images have {raw.test_images[0].size}"
        )
    X = normalize_images(raw.test_images, loaded.mean, loaded.std, backend.dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = evaluate(
            loaded.model, backend.asarray(X), backend.asarray(raw.test_labels), predictions=True
        )
    cm = confusion_matrix(raw.test_labels, result.predictions)
    per_class = (np.diag(cm) / np.maximum(cm.sum(axis=1), 1)).tolist()
    return {
        "model": str(path),
        "split": "test",
        "data": str(raw.location),
        "n_test": result.n,
        "test_loss": result.loss,
        "test_accuracy": result.accuracy,
        "class_names": list(CLASS_NAMES),
        "per_class_accuracy": dict(zip(CLASS_NAMES, per_class, strict=True)),
        "confusion_matrix": cm.tolist(),
        "device": backend.device,
    }
