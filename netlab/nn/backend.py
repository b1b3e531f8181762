"""Backend: the one object that knows NumPy from CuPy, and the only module that imports CuPy.

Math code takes its array module from its inputs (`array_module`); everything that allocates goes
through a `Backend`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BackendError
from .arrays import Array, array_module  # noqa: F401  (re-exported: backend.array_module)

DTYPES = {"float32": np.float32, "float64": np.float64}

# On the CPU an elementwise pass over a stack's (K, P) buffers runs a few rows at a time, so that
# the rows' parameters, gradients and optimizer state stay in a core's L2 cache across the
# update's passes (one row of the baseline model under SGD: 3 x 169 KB). Measured on a 2-core
# Intel Xeon (2 MiB of L2 per core), K = 16, SGD: 967 us a step whole, 591 us two rows at a time.
CPU_ROW_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class Backend:
    """Where arrays live and in which float dtype.

    Attributes:
        name: "cpu" or "cuda".
        xp: the array module (numpy or cupy).
        device: "cpu" or "cuda:N".
        dtype: the float dtype of parameters and activations.
    """

    name: str
    xp: Any
    device: str
    dtype: np.dtype

    def asarray(self, a: Any, dtype: Any = None) -> Array:
        """Copy or move `a` onto this backend (host arrays are transferred once, here)."""
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a: Array) -> np.ndarray:
        """A host copy of `a` (synchronizes on CUDA)."""
        if self.name == "cuda":
            return self.xp.asnumpy(a)
        return np.asarray(a)

    def to_float(self, a: Array) -> float:
        """A Python float from a 0-d array (a named sync point on CUDA)."""
        return float(a)

    def zeros(self, shape: Any, dtype: Any = None) -> Array:
        return self.xp.zeros(shape, dtype=self.dtype if dtype is None else dtype)

    def empty(self, shape: Any, dtype: Any = None) -> Array:
        return self.xp.empty(shape, dtype=self.dtype if dtype is None else dtype)

    def take_rows(self, X: Array, idx: Array, out: Array) -> Array:
        """out[:] = X[idx] (rows), into a preallocated buffer; idx must be valid row indices.

        NumPy's take with mode="raise" buffers through a temporary; "clip" writes straight into
        `out`. A fresh batch array per step would cost a page-faulting allocation on CPU.
        """
        if self.name == "cuda":
            return self.xp.take(X, idx, axis=0, out=out)
        return np.take(X, idx, axis=0, out=out, mode="clip")

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on CPU); use around timings only."""
        if self.name == "cuda":
            self.xp.cuda.get_current_stream().synchronize()

    def row_block(self, row_bytes: int) -> int | None:
        """How many rows of `row_bytes` each an elementwise update should take at a time (None:
        all at once; on CUDA one kernel over every row is fastest)."""
        if self.name == "cuda":
            return None
        return max(1, CPU_ROW_BLOCK_BYTES // max(1, row_bytes))

    @property
    def compiled_loops(self) -> bool:
        """Whether the CPU's compiled loops are there (nn/compiled.py: Numba installed and not
        turned off); never on CUDA, where the update is a kernel (cuda/) or CuPy's calls."""
        if self.name == "cuda":
            return False
        from . import compiled

        return compiled.available()

    def with_dtype(self, dtype: str | Any) -> Backend:
        """The same device with another float dtype."""
        return Backend(self.name, self.xp, self.device, _parse_dtype(dtype))


def _parse_dtype(dtype: str | Any) -> np.dtype:
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise BackendError(
                f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}, got {dtype!r}"
            )
        return np.dtype(DTYPES[dtype])
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise BackendError(f"unsupported dtype; expected float32 or float64, got {dt}")
    return dt


def _parse_device(device: str) -> tuple[str, int]:
    """'cpu', 'cuda', 'cuda:N', 'auto' -> ('cpu', 0), ('cuda', 0), ('cuda', N), ('auto', 0)."""
    text = device.strip().lower()
    if text in ("cpu", "auto", "cuda"):
        return text, 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return "cuda", int(text[5:])
    raise BackendError(
        f"unknown device {device!r}; expected cpu, cuda, cuda:N or auto, got {device!r}"
    )


def _import_cupy() -> Any:
    """CuPy, or a BackendError saying which of CuPy or the GPU is missing."""
    from ..cuda.driver import install_command

    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        raise BackendError(
            f"CuPy is not installed; {install_command()} from the netlab checkout (netlab "
            "doctor says which CUDA the driver supports), or use --device cpu"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver/runtime errors have no common base class
        raise BackendError(
            f"CuPy is installed but no usable CUDA GPU was found ({type(exc).__name__}); "
            "check the NVIDIA driver or use --device cpu"
        ) from None
    if count < 1:
        raise BackendError("CuPy is installed but no CUDA GPU was found; use --device cpu")
    return cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        _import_cupy()
    except BackendError:
        return False
    return True


# (the cupy module, device index) whose probe passed; the module itself, not its id, which a
# later module could reuse.
_PROBED: set[tuple[Any, int]] = set()


def get_backend(device: str = "cpu", dtype: str | Any = "float32", probe: bool = True) -> Backend:
    """Pick NumPy or CuPy at run time.

    Args:
        device: "cpu", "cuda", "cuda:N" or "auto" (cuda when usable, else cpu).
        dtype: "float32" (default) or "float64".
        probe: on CUDA, first try what training needs (cuda/probe.py: allocation, cuBLAS, NVRTC,
            a kernel launch), once per process and device.

    Raises:
        BackendError: unknown device/dtype, or cuda requested without CuPy, without a GPU, or
            where the probe fails (the message names the missing piece and the fix).
    """
    kind, index = _parse_device(device)
    dt = _parse_dtype(dtype)
    if kind == "auto":
        kind = "cuda" if cuda_available() else "cpu"
    if kind == "cpu":
        return Backend("cpu", np, "cpu", dt)
    cupy = _import_cupy()
    count = cupy.cuda.runtime.getDeviceCount()
    if index >= count:
        raise BackendError(
            f"device cuda:{index} requested but only {count} GPU(s) exist; "
            f"use cuda:0 to cuda:{count - 1}"
        )
    # CuPy allocates on the thread's current device; netlab runs one device per process.
    try:
        cupy.cuda.Device(index).use()
    except Exception as exc:  # CUDARuntimeError (busy or exclusive-process GPU, driver errors)
        raise BackendError(
            f"cannot use GPU cuda:{index} ({type(exc).__name__}: {exc}); pick another --device"
        ) from None
    if probe and (cupy, index) not in _PROBED:
        from ..cuda.probe import probe as probe_gpu

        probe_gpu(cupy, f"cuda:{index}")
        _PROBED.add((cupy, index))
    return Backend("cuda", cupy, f"cuda:{index}", dt)
