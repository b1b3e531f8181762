"""Which CUDA the NVIDIA driver supports, read from libcuda without CuPy, and which install extra
of netlab fits it (pyproject.toml: cuda12, cuda13; `cuda` is cuda12's twin)."""

from __future__ import annotations

import ctypes

# CUDA major version -> the extra whose prebuilt CuPy wheel (with its CUDA libraries, CuPy's
# [ctk]) runs on a driver of that version. A CUDA 12 wheel also runs on a CUDA 13 driver (drivers
# run programs built for older CUDA), so `cuda` = cuda12 fits every supported driver.
EXTRAS = {12: "cuda12", 13: "cuda13"}
COMMON = "cuda"


def driver_cuda_version() -> int:
    """The CUDA version the installed driver supports, as CUDA writes it (12080 = 12.8); 0 when
    there is no driver library (no NVIDIA driver, or not this kind of machine)."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    version = ctypes.c_int(0)
    if lib.cuDriverGetVersion(ctypes.byref(version)) != 0:
        return 0
    return int(version.value)


def extra_for(version: int) -> str | None:
    """The extra for a driver supporting CUDA `version` (12080 = 12.8); None when too old or absent.
    A newer major than netlab knows takes the newest extra (drivers are backward compatible)."""
    major = version // 1000
    if major < min(EXTRAS):
        return None
    return EXTRAS[min(major, max(EXTRAS))]


def install_command(version: int | None = None) -> str:
    """`pip install -e ".[cudaNN]"` for this machine's driver (the common `cuda` extra when the
    driver cannot be read)."""
    version = driver_cuda_version() if version is None else version
    return f'pip install -e ".[{extra_for(version) or COMMON}]"'


def driver_advice(version: int) -> str:
    """One sentence: what the driver supports and which extra fits (for netlab doctor)."""
    if not version:
        return "no NVIDIA driver found (libcuda.so.1); install one, or use --device cpu"
    text = f"supports CUDA {version // 1000}.{version % 1000 // 10}"
    extra = extra_for(version)
    if extra is None:
        return f"{text}; netlab's CuPy wheels need CUDA 12 or newer: update the NVIDIA driver"
    return f'{text}; install with pip install -e ".[{extra}]" from the netlab checkout'
