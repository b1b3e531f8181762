"""What training on a GPU needs, tried once before a run directory is taken: an allocation, a
cuBLAS GEMM (the eager path), an NVRTC compile and a small kernel (graph mode's kernels). Each
failure is one BackendError naming the missing piece and the fix. Called by nn/backend.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BackendError
from .driver import install_command
from .fault import describe

# y[i] = 2 x[i] + 1 for i < n (float): the contract the stand-in for CuPy (tests/cuda) runs too.
PROBE_KERNEL = "netlab_probe"
PROBE_SOURCE = r"""
extern "C" __global__ void netlab_probe(const float* x, float* y, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = 2.0f * x[i] + 1.0f;
}
"""


def _fix(what: str) -> str:
    return (
        f"{what}; {install_command()} installs CuPy with the CUDA libraries it loads, "
        "or use --device cpu"
    )


def probe(cp: Any, device: str) -> None:
    """Raise BackendError unless allocation, cuBLAS, NVRTC and a kernel launch work on `device`."""
    from .sources import Variant

    x_host = np.arange(16, dtype=np.float32).reshape(4, 4)
    try:
        x = cp.asarray(x_host)
        back = cp.asnumpy(x)
    except Exception as exc:  # out of memory, a busy or faulted GPU
        raise BackendError(
            f"cannot allocate memory on {device} ({describe(exc)}); free the GPU (nvidia-smi "
            "shows who holds it) or pick another --device"
        ) from None
    steps = [
        ("cuBLAS", lambda: cp.asnumpy(x @ x), x_host @ x_host),
        ("NVRTC (CUDA's run-time compiler)", lambda: _kernel(cp, x, Variant()), 2 * back + 1),
    ]
    for name, run, expected in steps:
        try:
            got = run()
        except Exception as exc:  # a missing library: ImportError, OSError or CuPy's RuntimeError
            raise BackendError(
                _fix(f"{name} does not work on {device} ({describe(exc)})")
            ) from None
        if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
            raise BackendError(
                f"{name} on {device} computes wrong results (a broken CUDA setup); run netlab "
                "doctor and report its output, or use --device cpu"
            )


def _kernel(cp: Any, x: Any, variant: Any) -> np.ndarray:
    """Compile PROBE_SOURCE with graph mode's NVRTC options and run it on x's 16 values."""
    kernel = cp.RawModule(code=PROBE_SOURCE, options=variant.options()).get_function(PROBE_KERNEL)
    y = cp.zeros(x.shape, dtype=np.float32)
    kernel((1,), (32,), (x, y, np.int32(x.size)))
    return cp.asnumpy(y)
