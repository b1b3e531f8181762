"""A saved model on the test split: loss, accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .backend import get_backend
from .data import CLASS_NAMES, N_CLASSES, load_raw, normalize_images
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
    backend = get_backend(device, "float32")
    loaded = load_model(path, backend)
    config = loaded.meta.get("config") or {}
    data_cfg = config.get("data", {}) if isinstance(config, dict) else {}
    source = source or data_cfg.get("source", "fashion-mnist")
    data_dir = data_dir if data_dir is not None else (data_cfg.get("dir") or None)
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
