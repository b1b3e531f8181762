"""Model files: a versioned .npz with one array per parameter and a JSON metadata entry.

Written atomically (temporary file, fsync, rename); read member by member from checked .npy
headers (npz.py, never a pickle), the metadata checked field by field (check_metadata) and every
array against it, so a model file can never run code or load half-valid.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._version import __version__
from ..errors import ConfigError, ModelFileError
from ..nn.backend import Backend
from ..nn.layers import MLP, check_sizes, parameter_shapes
from .atomic import atomic_write
from .fields import Invalid, integer, number, numbers, parse_json, table, text
from .npz import read_npz

if TYPE_CHECKING:
    from ..config import Config

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
        "config": config if config is not None else {},  # None: the defaults
    }
    if extra:
        meta.update(extra)
    return meta


def save_model(path: str | Path, model: MLP, meta: dict, force: bool = False) -> None:
    """Write `model`'s parameters and `meta` (see model_metadata) to `path` atomically; the
    metadata must pass the checks a reader applies (netlab never writes a file it would refuse)."""
    arrays = model.state()
    try:
        check_metadata(meta)
    except Invalid as exc:
        raise ModelFileError(f"cannot save {path}: metadata field {exc}") from None
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
    try:  # every member's header first (sizes are true), then the arrays
        arrays = read_npz(path, {METADATA_KEY: MAX_METADATA_BYTES + 256})
    except ValueError as exc:
        raise _bad(path, str(exc)) from None
    raw_meta = arrays.pop(METADATA_KEY, None)
    if raw_meta is None:
        raise _bad(path, "no metadata entry")
    if raw_meta.dtype != np.uint8 or raw_meta.ndim != 1:
        raise _bad(path, "metadata entry is not a JSON byte string of at most 1 MiB")
    try:
        meta = parse_json(raw_meta.tobytes(), MAX_METADATA_BYTES)
    except Invalid as exc:
        raise _bad(path, f"metadata {exc}") from None
    shapes = _check_meta(path, meta)
    missing, extra = set(shapes) - set(arrays), set(arrays) - set(shapes)
    if missing:
        raise _bad(path, f"missing arrays {', '.join(sorted(missing))}")
    if extra:
        raise _bad(path, f"unexpected arrays {', '.join(sorted(extra))[:200]}")
    for name, shape in shapes.items():
        a = arrays[name]
        if a.shape != shape:
            raise _bad(path, f"array {name} has shape {a.shape}, metadata says {shape}")
        if str(a.dtype) != meta["dtype"]:
            raise _bad(path, f"array {name} has dtype {a.dtype}, metadata says {meta['dtype']}")
        if not np.all(np.isfinite(a)):
            raise _bad(path, f"array {name} holds NaN or infinite values")
    return arrays, meta


def _check_meta(path: Path, meta: Any) -> dict[str, tuple[int, ...]]:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(path, "metadata does not describe a netlab model")
    version = meta.get("format_version")
    if type(version) is not int or version not in READS:
        raise ModelFileError(
            f"{path}: model format version {version!r:.40} is not supported; this netlab "
            f"({__version__}) reads versions {', '.join(map(str, READS))}; use a matching netlab"
        )
    try:
        return check_metadata(meta)
    except Invalid as exc:
        raise _bad(path, f"metadata field {exc}") from None


def check_metadata(meta: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Check every field of a model file's metadata that netlab reads (format 1 files lack
    input_scale, class_names and data_source); returns the parameter shapes. Invalid names the
    first bad field.

    Normalization statistics and the input scale must lie where float32 keeps them finite and
    non-zero (|mean| <= 1e30; std and input_scale in [1e-30, 1e30]).
    """
    from ..data.sources import DATA_SOURCES
    from ..nn.activations import ACTIVATIONS
    from ..nn.layers import INITS
    from ..schema import FIELDS

    sizes = meta.get("sizes")
    if not isinstance(sizes, list) or not 2 <= len(sizes) <= 102:
        raise Invalid("sizes", f"must be a list of 2 to 102 layer sizes; got {sizes!r:.60}")
    try:
        sizes = check_sizes(sizes)
    except ConfigError as exc:
        raise Invalid("sizes", f"is invalid ({exc})") from None
    text(meta.get("activation"), "activation", ACTIVATIONS.names())
    slope = FIELDS["model"]["leaky_slope"]
    if slope.check(meta.get("leaky_slope")) is None:
        raise Invalid(
            "leaky_slope", f"must be {slope.expected()}; got {meta.get('leaky_slope')!r:.40}"
        )
    text(meta.get("init"), "init", INITS)
    text(meta.get("dtype"), "dtype", ("float32", "float64"))
    shapes = parameter_shapes(sizes)
    if "parameters" in meta and meta["parameters"] != {k: list(v) for k, v in shapes.items()}:
        raise Invalid("parameters", "does not match the layer sizes")
    for key in ("netlab_version", "config_name"):
        if key in meta:
            text(meta[key], key, limit=256)
    if meta.get("format_version") != 1:
        for key in ("input_scale", "class_names", "data_source"):
            if key not in meta:
                raise Invalid(key, "is missing (format version 2 records it)")
    _check_inputs(meta, sizes[0])
    names = meta.get("class_names")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != sizes[-1]
        or not all(isinstance(n, str) and len(n) <= 256 for n in names)
    ):
        raise Invalid("class_names", f"must be {sizes[-1]} strings, one per output")
    if meta.get("data_source") is not None:
        text(meta["data_source"], "data_source", DATA_SOURCES.names())
    if meta.get("seed") is not None:
        integer(meta["seed"], "seed", 0, 2**63 - 1)
    config = _check_config(meta.get("config"))
    if "best_epoch" in meta:
        integer(meta["best_epoch"], "best_epoch", 1, config.training.epochs)
    for key in ("val_accuracy", "test_accuracy"):
        if key in meta:
            number(meta[key], key, 0.0, 1.0)
    return shapes


def _check_inputs(meta: dict[str, Any], n_in: int) -> None:
    """What turns raw inputs into the model's: input_scale, normalization mean and std."""
    norm = table(meta.get("normalization"), "normalization")
    if "pixels" in norm:
        text(norm["pixels"], "normalization.pixels", limit=256)
    numbers(norm.get("mean"), "normalization.mean", n_in, -1e30, 1e30)
    numbers(norm.get("std"), "normalization.std", n_in, 1e-30, 1e30)
    number(meta.get("input_scale", 255.0), "input_scale", 1e-30, 1e30)


def _check_config(config: Any) -> Config:
    """The training config a model records, validated like a config file ({} = the defaults)."""
    from ..config import config_from_dict

    table(config, "config")
    try:
        return config_from_dict(config, origin="the recorded config")
    except ConfigError as exc:
        raise Invalid("config", f"does not validate ({exc})") from None


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
