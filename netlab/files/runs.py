"""Run directories: what a training run leaves behind (RUN_FILES) and how it is named."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import OutputExistsError
from .atomic import atomic_write
from .history import history_csv, history_jsonl, read_history  # noqa: F401  (re-exported)
from .model import model_metadata, save_model

if TYPE_CHECKING:
    from ..training.run import TrainResult

# Every file netlab writes into a run directory, in the order a run creates them. `--force`
# removes exactly these (and netlab's own temporary files), never anything else in the directory.
RUN_FILES = {
    ".lock": "held (an exclusive flock) while a training writes into the directory",
    "config.toml": "the resolved config (every field, overrides applied); written first, so a "
    "killed run can be resumed",
    "checkpoint.npz": "the state after the last finished epoch, for --resume: weights, best "
    "weights, optimizer state, generator states, history",
    "model.npz": "the best-validation model: weights and the metadata `netlab eval` needs",
    "history.csv": "one row per epoch: train and validation loss and accuracy, lr, seconds",
    "history.jsonl": "the same history, one JSON object per epoch (NaN as null)",
    "metrics.json": "the summary: best epoch, validation and test figures, timing; written last, "
    "so its presence means the run is complete",
    "curves.png": "loss and accuracy curves, drawn by `netlab plot RUN_DIR`",
}
COMPLETE = "metrics.json"


def run_complete(run_dir: Path) -> bool:
    """Whether RUN_DIR holds a finished run (its metrics.json, written last)."""
    return (Path(run_dir) / COMPLETE).is_file()


def clear_run_files(run_dir: Path) -> list[str]:
    """Remove the files netlab writes into RUN_DIR (RUN_FILES but .lock, and netlab's temporary
    files `.<name>.*.tmp` left by a killed write) before a new run replaces it; anything else is
    left alone. Returns the names removed."""
    run_dir = Path(run_dir)
    names = [n for n in RUN_FILES if n != ".lock"]
    doomed = [run_dir / n for n in names]
    doomed += [p for n in names for p in run_dir.glob(f".{n}.*.tmp")]
    removed = []
    for path in doomed:
        if path.is_file() or path.is_symlink():
            try:
                path.unlink()
            except OSError as exc:
                raise OutputExistsError(
                    f"cannot remove {path} ({exc.strerror}); remove it yourself or choose "
                    "another --out"
                ) from None
            removed.append(path.name)
    return removed


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
def try_lock(run_dir: Path, create: bool = True) -> Iterator[str | None]:
    """Hold RUN_DIR/.lock (an exclusive flock) without waiting: yields None while this process
    holds it (its pid and host written inside, for others to report), or the holder's note when
    another process does. The kernel drops the lock when the holder dies, even by SIGKILL."""
    import fcntl
    import socket

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
            note = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            yield note or "another netlab process"
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        try:
            yield None
        finally:
            os.ftruncate(fd, 0)  # still held: no reader ever sees a stale note
    finally:
        os.close(fd)


@contextmanager
def run_lock(run_dir: Path, create: bool = True) -> Iterator[None]:
    """Hold RUN_DIR/.lock while a training writes into RUN_DIR; a second process gets a one-line
    error naming the holder."""
    with try_lock(run_dir, create) as holder:
        if holder is not None:
            raise OutputExistsError(
                f"run directory {run_dir} is in use by another netlab process ({holder}); wait "
                "for it to finish or choose another --out"
            )
        yield


def take_run_dir(
    stack: ExitStack, run_dir: Path, config: Config, *, new: bool, force: bool, extend: bool
) -> list[str]:
    """Lock RUN_DIR (held until `stack` closes) and make its files say what runs now; call it
    once everything is validated. A new run writes config.toml first, so a run killed from here
    on can be resumed; with `force`, in a directory that already was a run directory (it has the
    .lock every training leaves), the files of the run it replaces are removed before (returns
    their names); in any other directory nothing is removed. A resumed run that is extended
    (`extend`: more epochs) loses its metrics.json, since it is no longer complete, and gets
    config.toml with the new epoch count."""
    run_dir = Path(run_dir)
    was_run = (run_dir / ".lock").is_file()
    stack.enter_context(run_lock(run_dir, create=new))
    removed = clear_run_files(run_dir) if new and force and was_run else []
    if extend:
        (run_dir / COMPLETE).unlink(missing_ok=True)
    if new or extend:
        text = config.to_toml()
        atomic_write(run_dir / "config.toml", lambda f: f.write(text.encode()), force=True)
    return removed


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
    """Write the result files of a run: model, histories, config, metrics (each atomically;
    metrics.json last, so its presence means the run is complete); returns their paths and the
    summary (plus `extra` fields)."""
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
