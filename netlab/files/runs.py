"""Run directories: what a training run leaves behind and how it is named.

RUN_DIR/model.npz      the best-validation model (see io.py)
RUN_DIR/history.csv    one row per epoch: train/val loss and accuracy, learning rate, seconds
RUN_DIR/history.jsonl  the same, one JSON object per epoch (stable keys; NaN as null)
RUN_DIR/config.toml    the resolved config (every field, overrides applied)
RUN_DIR/metrics.json   the summary: best epoch, validation and test metrics, timing
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import OutputExistsError
from .atomic import atomic_write
from .history import history_csv, history_jsonl, read_history  # noqa: F401  (re-exported)
from .model import model_metadata, save_model

if TYPE_CHECKING:
    from ..training.run import TrainResult


def new_run_dir(root: Path, config: Config) -> Path:
    """root/<config name>-seed<N>-<YYYYmmdd-HHMMSS>, with a numeric suffix if that exists."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{config.name}-seed{config.training.seed}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


@contextmanager
def run_lock(run_dir: Path, create: bool = True) -> Iterator[None]:
    """Hold RUN_DIR/.lock (an exclusive flock) while a training writes into RUN_DIR; a second
    process gets a one-line error. The kernel drops the lock when the holder dies, even by SIGKILL.
    """
    import fcntl

    run_dir = Path(run_dir)
    try:
        if create:
            run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputExistsError(
            f"cannot use run directory {run_dir} ({exc.strerror}); choose another --out"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputExistsError(
                f"run directory {run_dir} is in use by another netlab process; wait for it to "
                "finish or choose another --out"
            ) from None
        yield
    finally:
        os.close(fd)


def summary(result: TrainResult, started: float | None = None) -> dict[str, Any]:
    fit = result.fit
    return {
        "best_epoch": fit.best_epoch,
        "epochs_run": len(fit.history),
        "stopped_early": fit.stopped_early,
        "val_loss": result.val.loss,
        "val_accuracy": result.val.accuracy,
        "test_loss": result.test.loss,
        "test_accuracy": result.test.accuracy,
        "train_seconds": fit.seconds,
        "device": result.backend.device,
        "dtype": str(result.backend.dtype),
        "seed": result.config.training.seed,
        "n_train": int(len(result.data.train_idx)),
        "n_val": int(len(result.data.val_idx)),
        "n_test": int(result.test.n),
        "data": result.data.location,
        "data_checksums_ok": result.data.checksums_ok,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)) if started else None,
    }


def write_run(
    run_dir: Path,
    result: TrainResult,
    started: float | None = None,
    force: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the four files of a run (each atomically; metrics.json last, so its presence means the
    run is complete); returns their paths and the summary (plus `extra` fields)."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputExistsError(
            f"cannot create run directory {run_dir} ({exc.strerror}); choose another --out"
        ) from None
    info = {**summary(result, started), **(extra or {})}
    cfg = result.config
    data = result.data
    meta = model_metadata(
        result.model,
        data.mean,
        data.std,
        cfg.resolved().to_dict(),
        cfg.training.seed,
        extra={
            "config_name": cfg.name,
            "best_epoch": result.fit.best_epoch,
            "val_accuracy": result.val.accuracy,
            "test_accuracy": result.test.accuracy,
        },
        input_scale=data.scale,
        class_names=data.class_names or None,
        data_source=data.source or None,
    )
    paths = {
        name: run_dir / name
        for name in ("model.npz", "history.csv", "history.jsonl", "config.toml", "metrics.json")
    }
    save_model(paths["model.npz"], result.model, meta, force=force)
    texts = {
        "history.csv": history_csv(result.fit.history),
        "history.jsonl": history_jsonl(result.fit.history),
        "config.toml": cfg.to_toml(),
        "metrics.json": json.dumps(info, indent=2) + "\n",
    }
    for name, text in texts.items():
        atomic_write(paths[name], lambda f, t=text: f.write(t.encode()), force=force)
    return {
        "model": paths["model.npz"],
        "history": paths["history.csv"],
        "config": paths["config.toml"],
        "metrics": paths["metrics.json"],
        "summary": info,
    }
