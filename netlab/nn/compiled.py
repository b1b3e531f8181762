"""Numba, where it is installed (`pip install -e ".[fast]"`): the CPU's compiled loops.

`jit(fn)` compiles a loop written in plain Python (nn/fused_sgd.py) on its first call, caching the
machine code beside the module; without Numba, or with NETLAB_NUMBA=0 in the environment, it
returns `fn` unchanged and `available()` is False, so callers take their NumPy path instead. The
loops do the NumPy path's operations in its order and dtype, so both give the same numbers bit for
bit (tests/nn/test_fused_sgd.py).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any


def _numba() -> Any:
    if os.environ.get("NETLAB_NUMBA", "1") == "0":
        return None
    try:
        return importlib.import_module("numba")
    except ImportError:
        return None


_NUMBA = _numba()


def available() -> bool:
    """Whether the loops are compiled (Numba importable and not turned off)."""
    return _NUMBA is not None


def jit(fn: Callable) -> Callable:
    """`fn` compiled (no Python objects, the GIL released, cached on disk), or `fn` itself."""
    if _NUMBA is None:
        return fn
    try:
        return _NUMBA.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # nowhere to cache (a read-only install, no writable home): compile
        return _NUMBA.njit(nogil=True)(fn)  # in each process instead
