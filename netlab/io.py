"""Model files: a versioned .npz with one array per parameter and a JSON metadata entry.

Written atomically (temporary file, fsync, rename); read with allow_pickle=False and every array
checked against the metadata, so a model file can never run code or load half-valid.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .activations import get_activation
from .backend import Backend
from .errors import ConfigError, ModelFileError, OutputExistsError
from .layers import MLP, check_sizes, parameter_shapes

FORMAT = "netlab-mlp"
FORMAT_VERSION = 1
METADATA_KEY = "metadata"
MAX_METADATA_BYTES = 1 << 20


@dataclass
class LoadedModel:
    model: MLP
    meta: dict[str, Any]

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.meta["normalization"]["mean"], dtype=np.float64)

    @property
    def std(self) -> np.ndarray:
        return np.asarray(self.meta["normalization"]["std"], dtype=np.float64)


def atomic_write(path: Path, write: Any, force: bool = False) -> None:
    """Call write(fileobj) on a temporary file beside `path`, fsync, then rename over `path`.

    Without force an existing `path` is an error (checked first, so nothing is written).
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(
            f"{path} exists; pass --force to overwrite it or choose another path"
        )
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputExistsError(
            f"cannot write in {directory} ({exc.strerror}); choose another path"
        ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputExistsError(
            f"could not write {path} ({exc.strerror}); the previous file, if any, is unchanged"
        ) from None
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    with suppress(OSError):  # make the rename durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def model_metadata(
    model: MLP,
    mean: Any,
    std: Any,
    config: dict | None,
    seed: int | None,
    extra: dict | None = None,
) -> dict:
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "netlab_version": __version__,
        "sizes": list(model.sizes),
        "activation": model.activation.name,
        "leaky_slope": model.activation.slope,
        "init": model.init,
        "dtype": str(model.backend.dtype),
        "parameters": {k: list(v.shape) for k, v in model.params.items()},
        "normalization": {
            "pixels": "x / 255, then (x - mean) / std, per input feature",
            "mean": [float(v) for v in np.asarray(mean).ravel()],
            "std": [float(v) for v in np.asarray(std).ravel()],
        },
        "seed": seed,
        "config": config,
    }
    if extra:
        meta.update(extra)
    return meta


def save_model(path: str | Path, model: MLP, meta: dict, force: bool = False) -> None:
    """Write `model`'s parameters and `meta` (see model_metadata) to `path` atomically."""
    arrays = model.state()
    blob = json.dumps(meta, allow_nan=False).encode("utf-8")
    if len(blob) > MAX_METADATA_BYTES:
        raise ModelFileError(f"metadata is {len(blob)} bytes; the limit is {MAX_METADATA_BYTES}")
    arrays[METADATA_KEY] = np.frombuffer(blob, dtype=np.uint8)
    atomic_write(Path(path), lambda f: np.savez(f, **arrays), force=force)


def npz_members(path: Path, limits: dict[str, int] | None = None) -> dict[str, tuple]:
    """(shape, dtype) of every array in an .npz, read from the headers only, so nothing is
    allocated for data the file does not hold.

    Every member must be stored uncompressed (as np.savez writes), hold a plain (non-object)
    dtype, and be exactly as long as its header declares; `limits` caps a member's byte size
    (name -> bytes). Raises ValueError naming the first problem.
    """
    on_disk = path.stat().st_size
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                raise ValueError(f"member {name!r} is not an array")
            key = name[:-4]
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise ValueError(f"member {key!r} is compressed; netlab writes stored arrays")
            if info.file_size > on_disk:
                raise ValueError(f"member {key!r} claims more bytes than the file holds")
            if limits is not None and key in limits and info.file_size > limits[key]:
                raise ValueError(f"member {key!r} is larger than {limits[key]} bytes")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"member {key!r} has .npy version {version}")
                header = f.tell()
            if dtype.hasobject or dtype.itemsize == 0:
                raise ValueError(f"member {key!r} holds objects (pickles are never loaded)")
            count = 1
            for dim in shape:
                count *= dim
            if header + count * dtype.itemsize != info.file_size:
                raise ValueError(f"member {key!r} is not as long as its header declares")
            out[key] = (tuple(shape), dtype)
    return out


def _bad(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}; pass a model.npz written by `netlab train`")


def read_model_file(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Host arrays and metadata, validated; ModelFileError for anything but a netlab model."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; pass the model.npz of a training run")
    if not zipfile.is_zipfile(path):
        raise _bad(path, "not an .npz file")
    try:
        members = npz_members(path, {METADATA_KEY: MAX_METADATA_BYTES + 256})
    except ValueError as exc:
        raise _bad(path, str(exc)) from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, NotImplementedError) as exc:
        raise _bad(path, f"corrupt archive ({exc})") from None
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            if METADATA_KEY not in names:
                raise _bad(path, "no metadata entry")
            raw_meta = npz[METADATA_KEY]
            if (
                not isinstance(raw_meta, np.ndarray)
                or raw_meta.dtype != np.uint8
                or raw_meta.ndim != 1
                or raw_meta.size > MAX_METADATA_BYTES
            ):
                raise _bad(path, "metadata entry is not a JSON byte string of at most 1 MiB")
            try:
                meta = json.loads(raw_meta.tobytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise _bad(path, "metadata is not valid JSON") from None
            shapes = _check_meta(path, meta)
            extra = names - set(shapes) - {METADATA_KEY}
            missing = set(shapes) - names
            if missing:
                raise _bad(path, f"missing arrays {', '.join(sorted(missing))}")
            if extra:
                raise _bad(path, f"unexpected arrays {', '.join(sorted(extra))}")
            arrays = {}
            for name, shape in shapes.items():
                if members[name][0] != shape:  # checked before reading: no allocation of a lie
                    raise _bad(
                        path, f"array {name} has shape {members[name][0]}, metadata says {shape}"
                    )
                a = npz[name]
                if not isinstance(a, np.ndarray):
                    raise _bad(path, f"member {name} is not an array")
                if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
                    raise _bad(path, f"array {name} has dtype {a.dtype}, expected float32/float64")
                if a.shape != shape:
                    raise _bad(path, f"array {name} has shape {a.shape}, metadata says {shape}")
                if not np.all(np.isfinite(a)):
                    raise _bad(path, f"array {name} holds NaN or infinite values")
                arrays[name] = a
    except ValueError as exc:  # object arrays (pickles) and malformed .npy headers land here
        raise _bad(path, f"unreadable array ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, NotImplementedError) as exc:
        raise _bad(path, f"corrupt archive ({exc})") from None
    return arrays, meta


def _check_meta(path: Path, meta: Any) -> dict[str, tuple[int, ...]]:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(path, "metadata does not describe a netlab model")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version!r} is not supported; this netlab "
            f"({__version__}) reads version {FORMAT_VERSION}; use a matching netlab version"
        )
    try:
        sizes = check_sizes(meta["sizes"])
        get_activation(meta["activation"], float(meta.get("leaky_slope", 0.01)))
        mean, std = meta["normalization"]["mean"], meta["normalization"]["std"]
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise _bad(path, f"invalid metadata ({exc})") from None
    if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) == sizes[0]):
        raise _bad(path, "normalization statistics do not match the input size")
    if not all(isinstance(v, (int, float)) for v in mean + std) or not all(v > 0 for v in std):
        raise _bad(path, "normalization statistics are not positive numbers")
    return parameter_shapes(sizes)


def load_model(path: str | Path, backend: Backend | str) -> LoadedModel:
    """Read a model file onto `backend`, or onto a device name in the model's own dtype."""
    arrays, meta = read_model_file(path)
    if isinstance(backend, str):
        from .backend import DTYPES, get_backend

        dtype = meta.get("dtype") if meta.get("dtype") in DTYPES else "float32"
        backend = get_backend(backend, dtype)
    model = MLP(
        meta["sizes"],
        meta["activation"],
        leaky_slope=float(meta.get("leaky_slope", 0.01)),
        init=str(meta.get("init", "")),
        backend=backend,
        state=arrays,
    )
    return LoadedModel(model, meta)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz in memory (tests and tools that build model files by hand)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
