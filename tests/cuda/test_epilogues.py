"""Each registered activation's CUDA code (the GEMM epilogues' f and f') computes what its eager
NumPy code computes, NaN and infinities included: the expressions compiled as C++ for the host
with separately rounded products and sums (-ffp-contract=off, as --fmad=false on the GPU) and run
on special values. Issue 17 item 8: ReLU's epilogue mapped NaN and -inf to 0 where the eager
z * (z > 0) gives NaN, so a divergence showed only at the end of the epoch."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from netlab.cuda.sources import ctype_of
from netlab.nn.activations import ACTIVATIONS

_CODE = """
#include <cmath>
#define __device__
#define __forceinline__ inline
typedef {ctype} T;
using std::tanh; using std::exp; using std::log;
{helpers}
inline T act_f(T v, T slope) {{ return {forward}; }}
inline T act_df(T s, T slope) {{ return {derivative}; }}
extern "C" void f(const T* x, T* out, int n, T slope) {{
    for (int i = 0; i < n; ++i) out[i] = act_f(x[i], slope);
}}
extern "C" void df(const T* x, T* out, int n, T slope) {{
    for (int i = 0; i < n; ++i) out[i] = act_df(x[i], slope);
}}
"""

VALUES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0,
          20.0, -20.0, 100.0, -100.0]  # fmt: skip
CASES = [
    (n, d) for n, a in ACTIVATIONS.items() if a.cuda is not None for d in ("float32", "float64")
]


def _host_library(tmp_path, name, dtype):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler to build the activations' CUDA code for the host")
    code = ACTIVATIONS.get(name).cuda
    source = tmp_path / f"{name}.cpp"
    source.write_text(_CODE.format(ctype=ctype_of(dtype), helpers=code.helpers,
                                   forward=code.forward, derivative=code.derivative))  # fmt: skip
    lib = tmp_path / f"{name}.so"
    cmd = [compiler, "-shared", "-fPIC", "-O1", "-ffp-contract=off", str(source), "-o", str(lib)]
    subprocess.run(cmd, check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


def _call(lib, fn, x, slope):
    out = np.empty_like(x)
    ptr = ctypes.c_void_p
    scalar = ctypes.c_float if x.dtype == np.float32 else ctypes.c_double
    getattr(lib, fn)(ptr(x.ctypes.data), ptr(out.ctypes.data), ctypes.c_int(len(x)), scalar(slope))
    return out


@pytest.mark.parametrize("name,dtype", CASES)
def test_cuda_code_computes_what_the_eager_code_computes(tmp_path, name, dtype):
    lib = _host_library(tmp_path, name, dtype)
    act = ACTIVATIONS.get(name)
    slope = 0.01
    x = np.array(VALUES, dtype=dtype)
    with np.errstate(all="ignore"):
        eager_y = act.forward(x.copy(), np, slope)
        saved = eager_y if act.saves == "y" else x
        eager_d = act.backward(saved.copy(), np.ones_like(x), np, slope)
    cuda_y, cuda_d = _call(lib, "f", x, slope), _call(lib, "df", saved, slope)
    # tanh and exp of the C++ library and of NumPy differ by an ulp or two, which cancellation
    # (GELU's 1 + tanh near -1) can magnify in absolute terms up to a few ulp of |x|.
    eps = np.finfo(dtype).eps
    size = np.maximum(1.0, np.where(np.isfinite(x), np.abs(x), 1.0))
    for what, cuda, eager in (("f", cuda_y, eager_y), ("f'", cuda_d, eager_d)):
        np.testing.assert_array_equal(np.isnan(cuda), np.isnan(eager), err_msg=f"{what} NaNs")
        finite = np.isfinite(eager)
        np.testing.assert_array_equal(cuda[~finite], eager[~finite], err_msg=f"{what} infinities")
        allowed = (4 * eps * np.abs(eager) + 16 * eps * size)[finite]
        assert (np.abs(cuda[finite] - eager[finite]) <= allowed).all(), (what, x, cuda, eager)
