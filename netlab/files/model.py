"""Model files: a versioned .npz with one array per parameter and a JSON metadata entry.

Written atomically (temporary file, fsync, rename); read with allow_pickle=False and every array
checked against the metadata, so a model file can never run code or load half-valid.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import ConfigError, ModelFileError
from ..nn.activations import get_activation
from ..nn.backend import Backend
from ..nn.layers import MLP, check_sizes, parameter_shapes
from .atomic import atomic_write
from .npz import npz_members

FORMAT = "netlab-mlp"
FORMAT_VERSION = 2  # 2 (netlab 0.3): input_scale, class_names, data_source
READS = (1, 2)
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

    @property
    def input_scale(self) -> float:
        """Raw inputs are divided by this before (x - mean) / std (255 for pixels; files written
        before netlab 0.3 hold pixel models and do not record it)."""
        return float(self.meta.get("input_scale", 255.0))

    @property
    def class_names(self) -> tuple[str, ...]:
        return class_names(self.meta)


def class_names(meta: dict[str, Any]) -> tuple[str, ...]:
    """The class names: recorded since netlab 0.3 (before, every model was Fashion-MNIST's)."""
    from ..data.sources import FASHION_CLASSES

    names = meta.get("class_names")
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return tuple(names)
    n = meta["sizes"][-1]
    return FASHION_CLASSES if n == len(FASHION_CLASSES) else tuple(str(c) for c in range(n))


def model_metadata(
    model: MLP,
    mean: Any,
    std: Any,
    config: dict | None,
    seed: int | None,
    extra: dict | None = None,
    *,
    input_scale: float = 255.0,
    class_names: tuple[str, ...] | None = None,
    data_source: str | None = None,
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
        "input_scale": float(input_scale),
        "class_names": list(class_names) if class_names is not None else None,
        "data_source": data_source,
        "normalization": {
            "pixels": f"x / {input_scale:g}, then (x - mean) / std, per input feature",
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
    if version not in READS:
        raise ModelFileError(
            f"{path}: model format version {version!r} is not supported; this netlab "
            f"({__version__}) reads versions {', '.join(map(str, READS))}; use a matching netlab"
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
    scale = meta.get("input_scale", 255.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < 1e300:
        raise _bad(path, f"input_scale must be a positive number; got {scale!r}")
    names = meta.get("class_names")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != sizes[-1]
        or not all(isinstance(n, str) for n in names)
    ):
        raise _bad(path, f"class_names must be {sizes[-1]} strings, one per output")
    return parameter_shapes(sizes)


def load_model(path: str | Path, backend: Backend | str) -> LoadedModel:
    """Read a model file onto `backend`, or onto a device name in the model's own dtype."""
    arrays, meta = read_model_file(path)
    if isinstance(backend, str):
        from ..nn.backend import DTYPES, get_backend

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
