"""`Array` and `array_module`: which array module (NumPy or CuPy) some arrays belong to; and
`any_nonzero`, the truth of a setting that is a number (a model alone) or an array (a stack).

Imports nothing heavy, so the registries that use it can be listed without loading NumPy; math
code takes its array module from its inputs through this function (the `xp` idiom).
"""

from __future__ import annotations

import importlib
from typing import Any

Array = Any  # numpy.ndarray or cupy.ndarray; CuPy may be absent

_numpy: Any = None


def _is_cupy(a: Any) -> bool:
    return type(a).__module__.split(".")[0] == "cupy"


def array_module(*arrays: Any) -> Any:
    """The array module of `arrays` (numpy or cupy); TypeError if they are mixed.

    Scalars and None are ignored. Decided by type name, so CuPy is never imported here.
    """
    global _numpy
    if _numpy is None:
        _numpy = importlib.import_module("numpy")
    ndarray = _numpy.ndarray
    found: Any = None
    for a in arrays:
        if type(a) is ndarray and found != "cupy":  # the common case, checked cheaply
            found = "numpy"
            continue
        if a is None or isinstance(a, (int, float)):
            continue
        module = "cupy" if _is_cupy(a) else "numpy"
        if found is None:
            found = module
        elif found != module:
            raise TypeError(
                "mixed NumPy and CuPy arrays; move them to one device first "
                "(backend.asarray(a) to the backend's device, backend.to_numpy(a) to the host)"
            )
    if found == "cupy":
        return importlib.import_module("cupy")
    return _numpy


def any_nonzero(value: Any) -> bool:
    """Whether a setting is non-zero for any model: a number, or a stack's (K, 1) array."""
    return bool(value) if isinstance(value, (int, float)) else bool(value.any())
