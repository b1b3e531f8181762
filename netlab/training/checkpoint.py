"""Checkpoints: everything a training run needs to continue bit for bit, saved atomically per epoch.

RUN_DIR/checkpoint.npz holds the parameters, the best weights so far, every state buffer of the
optimizer (`opt.<name>`, e.g. SGD's velocity, Adam's m and v), and a JSON entry with the epoch,
the optimizer's name and step count, the history, the early-stopping state, the states of the
random generators and the run's resolved config. Written like a model file (temporary file,
fsync, rename, fsync of the directory), so a kill during a save leaves the previous checkpoint;
read with allow_pickle=False, every array checked.
"""

from __future__ import annotations

import io
import json
import os
import signal
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import ConfigError, ModelFileError

FORMAT = "netlab-checkpoint"
FORMAT_VERSION = 2  # 1 (netlab 0.2): SGD only, its velocity as the array "velocity"
NAME = "checkpoint.npz"
META = "metadata"
ARRAYS = ("flat", "best_flat")
OPT_PREFIX = "opt."
MAX_METADATA_BYTES = 64 << 20  # the history grows with the epochs; 1e6 epochs fit


@dataclass
class TrainState:
    """The state of `train.fit` after `epoch` completed epochs (arrays on the host)."""

    epoch: int
    flat: np.ndarray
    best_flat: np.ndarray
    best_value: float
    best_epoch: int
    stopped: bool
    optimizer: str = "sgd"
    opt_state: dict[str, np.ndarray] = field(default_factory=dict)  # buffer name -> array
    opt_steps: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    rng_states: dict[str, Any] = field(default_factory=dict)  # shuffle, dropout, augment
    config_toml: str = ""


def save_checkpoint(path: str | Path, state: TrainState) -> None:
    """Write `state` to `path` atomically (the previous checkpoint survives any interruption)."""
    from ..files.atomic import atomic_write

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "netlab_version": __version__,
        "epoch": state.epoch,
        "best_value": state.best_value,
        "best_epoch": state.best_epoch,
        "stopped": state.stopped,
        "history": state.history,
        "rng_states": state.rng_states,
        "optimizer": state.optimizer,
        "optimizer_steps": state.opt_steps,
        "config_toml": state.config_toml,
        "dtype": str(state.flat.dtype),
        "n_params": int(state.flat.size),
    }
    buf = io.BytesIO()
    np.savez(
        buf,
        **{name: getattr(state, name) for name in ARRAYS},
        **{OPT_PREFIX + name: a for name, a in state.opt_state.items()},
        **{META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)},
    )

    def write(f: Any) -> None:
        f.write(buf.getvalue())
        _maybe_die_mid_save(f)

    atomic_write(Path(path), write, force=True)


_saves = 0


def _maybe_die_mid_save(f: Any) -> None:
    """Fault injection for the kill tests: with NETLAB_FAULT_KILL_AT_SAVE=N, the process SIGKILLs
    itself during its N-th checkpoint save, after the temporary file is written and before it is
    renamed into place (the moment an interrupted save must not lose the previous checkpoint)."""
    global _saves
    _saves += 1
    wanted = os.environ.get("NETLAB_FAULT_KILL_AT_SAVE")
    if wanted and wanted.isdigit() and int(wanted) == _saves:
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def load_checkpoint(path: str | Path, config: Any, ignore: tuple[str, ...] = ()) -> TrainState:
    """Read and check a checkpoint; ConfigError when it belongs to another config (compared by
    resolved values, so a field added to netlab since the run started does not matter; `ignore`
    lists "section.key" fields that may differ, as training.epochs does when a run is extended)."""
    path = Path(path)
    bad = f"{path} is not a usable netlab checkpoint"
    if not path.is_file():
        raise ModelFileError(f"no checkpoint at {path}; this run cannot be resumed")
    try:
        from ..files.npz import npz_members

        npz_members(path, {META: MAX_METADATA_BYTES + 256})  # headers first: sizes are true
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if META not in names:
                raise ModelFileError(f"{bad}: no metadata")
            raw = z[META]
            if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_METADATA_BYTES:
                raise ModelFileError(f"{bad}: malformed metadata")
            meta = json.loads(raw.tobytes().decode("utf-8"))
            arrays = {name: z[name] for name in names - {META}}
    except ModelFileError:
        raise
    except (
        OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError, KeyError,
        NotImplementedError, RecursionError,
    ) as e:  # fmt: skip
        raise ModelFileError(f"{bad} ({type(e).__name__}); delete it to start over") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{bad}: not a {FORMAT} file")
    version = meta.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise ModelFileError(
            f"{path} is checkpoint format version {version!r}; this netlab reads versions 1 and "
            f"{FORMAT_VERSION}; finish the run with the netlab that started it"
        )
    _check_config(path, meta.get("config_toml"), config, ignore)
    if version == 1:  # netlab 0.2: SGD's velocity under its own name
        arrays = {**arrays, OPT_PREFIX + "velocity": arrays.pop("velocity", None)}
        meta = {**meta, "optimizer": "sgd", "optimizer_steps": 0}
    expected = {*ARRAYS} | {n for n in arrays if n.startswith(OPT_PREFIX)}
    if set(arrays) != expected or not set(ARRAYS) <= set(arrays):
        raise ModelFileError(f"{bad}: it holds {sorted(arrays)}")
    n, dtype = meta.get("n_params"), meta.get("dtype")
    for name, a in arrays.items():
        if a is None or a.dtype.kind != "f" or str(a.dtype) != dtype or a.shape != (n,):
            raise ModelFileError(f"{bad}: array {name} is not {dtype} of shape ({n},)")
    try:
        return TrainState(
            epoch=int(meta["epoch"]),
            flat=arrays["flat"],
            best_flat=arrays["best_flat"],
            best_value=float(meta["best_value"]),
            best_epoch=int(meta["best_epoch"]),
            stopped=bool(meta["stopped"]),
            optimizer=str(meta["optimizer"]),
            opt_state={
                k[len(OPT_PREFIX) :]: a for k, a in arrays.items() if k.startswith(OPT_PREFIX)
            },
            opt_steps=int(meta["optimizer_steps"]),
            history=list(meta["history"]),
            rng_states=dict(meta["rng_states"]),
            config_toml=meta["config_toml"],
        )
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(f"{bad}: incomplete metadata") from None


def _check_config(path: Path, text: Any, config: Any, ignore: tuple[str, ...] = ()) -> None:
    """The checkpoint's config must be the run's: equal resolved values (names may differ)."""
    from ..config import config_diff, config_from_toml

    if not isinstance(text, str):
        raise ModelFileError(f"{path} is not a usable netlab checkpoint: no config")
    written = config_from_toml(text, origin=f"{path} (its config)")
    diff = config_diff(written, config, ignore=("name", *ignore))
    if diff:
        raise ConfigError(
            f"{path} was written for a different config than {path.parent / 'config.toml'} "
            f"({'; '.join(diff[:3])}); restore that config or start a new run"
        )
