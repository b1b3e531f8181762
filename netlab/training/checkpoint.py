"""Checkpoints: everything a training run needs to continue bit for bit, saved atomically per epoch.

RUN_DIR/checkpoint.npz holds the parameters, the best weights so far, every state buffer of the
optimizer (`opt.<name>`, e.g. SGD's velocity, Adam's m and v), and a JSON entry with the epoch,
the optimizer's name and step count, the history, the early-stopping state, the states of the
random generators and the run's resolved config. Written like a model file (temporary file,
fsync, rename, fsync of the directory), so a kill during a save leaves the previous checkpoint;
read member by member from checked .npy headers (files/npz.py, never a pickle), every array and
every metadata field checked (the epoch within the run's epochs, one history record per epoch,
well-formed generator states).
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import ConfigError, ModelFileError
from ..files.fields import Invalid, flag, integer, number, parse_json, table, text
from ..files.history import check_history
from ..files.npz import read_npz

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
    """Read and check a checkpoint of `config` (resolved); ConfigError when it belongs to another
    config (compared by resolved values, so a field added to netlab since the run started does not
    matter; `ignore` lists "section.key" fields that may differ, as training.epochs does when a run
    is extended), ModelFileError naming the field for anything else that does not validate."""
    path = Path(path)
    bad = f"{path} is not a usable netlab checkpoint"
    if not path.is_file():
        raise ModelFileError(f"no checkpoint at {path}; this run cannot be resumed")
    try:
        arrays = read_npz(path, {META: MAX_METADATA_BYTES + 256})  # headers first: sizes are true
        raw = arrays.pop(META, None)
        if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
            raise Invalid("", "has no metadata entry of JSON bytes")
        meta = parse_json(raw.tobytes(), MAX_METADATA_BYTES)
    except ValueError as exc:  # also Invalid
        raise ModelFileError(f"{bad} ({exc}); delete it to start over") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{bad}: not a {FORMAT} file")
    version = meta.get("format_version")
    if type(version) is not int or version not in (1, FORMAT_VERSION):
        raise ModelFileError(
            f"{path} is checkpoint format version {version!r:.40}; this netlab reads versions 1 "
            f"and {FORMAT_VERSION}; finish the run with the netlab that started it"
        )
    written = _check_config(path, meta.get("config_toml"), config, ignore)
    if version == 1:  # netlab 0.2: SGD's velocity under its own name
        velocity = arrays.pop("velocity", None)
        arrays[OPT_PREFIX + "velocity"] = velocity
        meta = {**meta, "optimizer": "sgd", "optimizer_steps": 0}
    expected = {*ARRAYS} | {n for n in arrays if n.startswith(OPT_PREFIX)}
    if set(arrays) != expected or not set(ARRAYS) <= set(arrays):
        raise ModelFileError(f"{bad}: it holds {sorted(arrays)}"[:300])
    n, dtype = meta.get("n_params"), meta.get("dtype")
    if type(n) is not int:
        raise ModelFileError(f"{bad}: field n_params must be an integer; got {n!r:.40}")
    for name, a in arrays.items():
        if a is None or str(a.dtype) != dtype or dtype not in DTYPES or a.shape != (n,):
            raise ModelFileError(f"{bad}: array {name} is not {dtype!r:.20} of shape ({n!r:.20},)")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{bad}: array {name} holds NaN or infinite values")
    try:
        # The state is checked against the config it was written with (a run being extended
        # has more epochs now).
        return _check_progress(_state(meta, arrays, written.training.epochs), written.training)
    except Invalid as exc:
        raise ModelFileError(f"{bad}: field {exc}; delete it to start over") from None


DTYPES = ("float32", "float64")
RNGS = ("shuffle", "dropout", "augment")  # augment: since netlab 0.3


def _state(meta: dict[str, Any], arrays: dict[str, np.ndarray], epochs: int) -> TrainState:
    """The TrainState a checkpoint's metadata describes, every field checked (Invalid names it):
    the epoch within the run's epochs, the best epoch within those done, one history record per
    epoch done, well-formed generator states."""
    from ..nn.optimizers import OPTIMIZERS

    if "netlab_version" in meta:
        text(meta["netlab_version"], "netlab_version", limit=256)
    epoch = integer(meta.get("epoch"), "epoch", 1, epochs)
    history = check_history(meta.get("history"), "history")
    if len(history) != epoch:
        raise Invalid("history", f"has {len(history)} records for {epoch} epochs")
    optimizer = text(meta.get("optimizer"), "optimizer", OPTIMIZERS.names())
    buffers = {OPT_PREFIX + b for b in OPTIMIZERS.get(optimizer).buffers}
    held = {k for k in arrays if k.startswith(OPT_PREFIX)}
    if held != buffers:
        raise Invalid(
            "optimizer",
            f"{optimizer} keeps {sorted(buffers) or 'no state'}, the file "
            f"holds {sorted(held) or 'none'}",
        )
    return TrainState(
        epoch=epoch,
        flat=arrays["flat"],
        best_flat=arrays["best_flat"],
        best_value=number(meta.get("best_value"), "best_value"),
        best_epoch=integer(meta.get("best_epoch"), "best_epoch", 1, epoch),
        stopped=flag(meta.get("stopped"), "stopped"),
        optimizer=optimizer,
        opt_state={k[len(OPT_PREFIX) :]: a for k, a in arrays.items() if k.startswith(OPT_PREFIX)},
        opt_steps=integer(meta.get("optimizer_steps"), "optimizer_steps", 0, 2**62),
        history=history,
        rng_states=_rng_states(meta.get("rng_states")),
        config_toml=meta["config_toml"],
    )


def _check_progress(state: TrainState, t: Any) -> TrainState:
    """The early-stopping state must be the one the history implies (as Trainer.track_best
    derives it): the best epoch is the first with the lowest monitored value (-val_accuracy,
    val_loss, or -epoch without a validation split), best_value is that value, and stopped says
    whether patience ran out before the last epoch."""
    no_val = [math.isnan(r["val_loss"]) or math.isnan(r["val_accuracy"]) for r in state.history]
    if any(no_val) and not all(math.isnan(v) for r in state.history for v in _val(r)):
        raise Invalid("history", "has validation metrics in some epochs and NaN in others")
    values = [
        -r["epoch"] if none else (r["val_loss"] if t.monitor == "val_loss" else -r["val_accuracy"])
        for r, none in zip(state.history, no_val, strict=True)
    ]
    best = values.index(min(values)) + 1
    if state.best_epoch != best or state.best_value != values[best - 1]:
        raise Invalid(
            "best_epoch",
            f"and best_value must be {best} and {values[best - 1]!r} (the history's best by "
            f"{t.monitor}); got {state.best_epoch} and {state.best_value!r}",
        )
    stop = t.patience > 0 and state.epoch - best >= t.patience and state.epoch < t.epochs
    if state.stopped != stop:
        raise Invalid(
            "stopped", f"must be {str(stop).lower()} (patience {t.patience}, best {best})"
        )
    return state


def _val(record: dict[str, float]) -> tuple[float, float]:
    return record["val_loss"], record["val_accuracy"]


def _rng_states(states: Any) -> dict[str, dict]:
    """Generator states as numpy's PCG64 writes them (what np.random.default_rng uses): shuffle
    and dropout, and augment since netlab 0.3; each one must be accepted by a PCG64."""
    table(states, "rng_states")
    if not {"shuffle", "dropout"} <= set(states) <= set(RNGS):
        raise Invalid(
            "rng_states", f"must hold shuffle, dropout (and augment); got {sorted(states)!r:.80}"
        )
    for name, state in states.items():
        where = f"rng_states.{name}"
        if set(table(state, where)) != {"bit_generator", "state", "has_uint32", "uinteger"}:
            raise Invalid(where, "must have the keys bit_generator, state, has_uint32, uinteger")
        text(state["bit_generator"], f"{where}.bit_generator", ("PCG64",))
        inner = table(state["state"], f"{where}.state")
        if set(inner) != {"state", "inc"}:
            raise Invalid(f"{where}.state", "must have the keys state and inc")
        integer(inner["state"], f"{where}.state.state", 0, 2**128 - 1)
        if integer(inner["inc"], f"{where}.state.inc", 1, 2**128 - 1) % 2 == 0:
            raise Invalid(f"{where}.state.inc", "must be odd (a PCG64 increment)")
        integer(state["has_uint32"], f"{where}.has_uint32", 0, 1)
        integer(state["uinteger"], f"{where}.uinteger", 0, 2**32 - 1)
        try:
            np.random.PCG64().state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise Invalid(where, f"is not a PCG64 state ({exc})") from None
    return states


def _check_config(path: Path, text: Any, config: Any, ignore: tuple[str, ...] = ()) -> Any:
    """The checkpoint's config must be the run's: equal resolved values (names may differ, and
    the fields in `ignore`); returns the config the checkpoint was written with."""
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
    return written.resolved()
