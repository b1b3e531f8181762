"""Fused CUDA kernels for a whole training step: GEMM with bias+activation or activation-backward
epilogues (rows read through a permutation), softmax cross-entropy gradient, bias gradient, and the
optimizer's update. CuPy comes from the backend (`backend.xp`), never imported here.

The activation code in the epilogues and the update kernel come from the registries: each
activation's `cuda` (nn/activations.py) and each optimizer's `cuda` (nn/optimizers.py).

Every kernel computes the same function as the NumPy path (layers.py, losses.py, optim.py); sums
run in another order, so results agree to rounding, not bit for bit. They exist for CUDA-graph
capture (graph.py): CuPy refuses its cuBLAS wrapper inside stream capture, and a step of the
study's small network is ~14 launches instead of ~40.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TILE = 16
IDENTITY = "identity"  # the output layer: no activation

# Epilogues of the GEMM: plain store; + bias then activation; times f'(s) of the saved s (the
# activation's output y or input z, as its `saves` declares); + bias then activation, also
# keeping the pre-activation z (for activations whose derivative needs z).
EPI_STORE, EPI_BIAS_ACT, EPI_ACT_BACKWARD, EPI_BIAS_ACT_KEEP_Z = 0, 1, 2, 3
# Which operand index goes through the row permutation: none, A's rows (i), A's columns (l).
GATHER_NONE, GATHER_ROWS, GATHER_COLS = 0, 1, 2

_GEMM = r"""
#define T {ctype}
#define TILE {tile}
#define EPI {epi}
#define GATHER {gather}
{helpers}
__device__ __forceinline__ T act_f(T v, T slope) {{ return {act}; }}
__device__ __forceinline__ T act_df(T s, T slope) {{ return {dact}; }}

// C[i, j] = epilogue(sum_l A(i, l) * B(l, j)), i < m, j < n, l < k, with
// A(i, l) = A[ri * sa0 + rl * sa1] (ri or rl mapped through perm[offset + .] per GATHER) and
// B(l, j) = B[l * sb0 + j * sb1]; C row-major with leading dimension ldc.
extern "C" __global__ void gemm(
    const T* __restrict__ A, const long long* __restrict__ perm, long long offset,
    long long sa0, long long sa1, const T* __restrict__ B, long long sb0, long long sb1,
    T* __restrict__ C, long long ldc, const T* __restrict__ E, T* __restrict__ Z, int m, int n,
    int k, T slope)
{{
    __shared__ T As[TILE][TILE + 1];
    __shared__ T Bs[TILE][TILE + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row = blockIdx.y * TILE + ty;
    const int col = blockIdx.x * TILE + tx;
    long long ri = row;
#if GATHER == 1
    if (row < m) ri = perm[offset + row];
#endif
    T acc = (T)0;
    for (int t = 0; t < k; t += TILE) {{
        const int la = t + tx;
        T a = (T)0;
        if (row < m && la < k) {{
            long long rl = la;
#if GATHER == 2
            rl = perm[offset + la];
#endif
            a = A[ri * sa0 + rl * sa1];
        }}
        As[ty][tx] = a;
        const int lb = t + ty;
        Bs[ty][tx] = (lb < k && col < n) ? B[(long long)lb * sb0 + (long long)col * sb1] : (T)0;
        __syncthreads();
#pragma unroll
        for (int q = 0; q < TILE; ++q) acc += As[ty][q] * Bs[q][tx];
        __syncthreads();
    }}
    if (row >= m || col >= n) return;
    const long long at = (long long)row * ldc + col;
#if EPI == 0
    C[at] = acc;
#elif EPI == 1
    C[at] = act_f(acc + E[col], slope);
#elif EPI == 2
    C[at] = acc * act_df(E[at], slope);
#else
    const T v = acc + E[col];
    Z[at] = v;
    C[at] = act_f(v, slope);
#endif
}}
"""

_SMALL = r"""
#define T {ctype}
// d = (softmax(z) - onehot(label)) * scale, row by row (one thread per row); z may alias d.
extern "C" __global__ void softmax_ce_grad(
    const T* z, const long long* __restrict__ labels, const long long* __restrict__ perm,
    long long offset, T* d, int m, int c, T scale)
{{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= m) return;
    const T* zi = z + (long long)i * c;
    T* di = d + (long long)i * c;
    T mx = zi[0];
    for (int j = 1; j < c; ++j) mx = zi[j] > mx ? zi[j] : mx;
    T s = (T)0;
    for (int j = 0; j < c; ++j) {{ const T e = exp(zi[j] - mx); di[j] = e; s += e; }}
    const T f = scale / s;
    for (int j = 0; j < c; ++j) di[j] *= f;
    di[labels[perm[offset + i]]] -= scale;
}}

// db[j] = sum_i dy[i, j] (one thread per column).
extern "C" __global__ void column_sum(const T* __restrict__ dy, T* __restrict__ db, int m, int n)
{{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    T s = (T)0;
    for (int i = 0; i < m; ++i) s += dy[(long long)i * n + j];
    db[j] = s;
}}
"""


OPTIONS = ("--fmad=false",)  # what netlab asks of NVRTC (CuPy's RawModule adds its own)


def activation_code(act: str) -> tuple[str, str, str]:
    """(forward in v, derivative in s, helper functions) of a registered activation's CUDA code."""
    if act == IDENTITY:
        return "(v)", "((T)1)", ""
    from ..nn.activations import ACTIVATIONS

    code = ACTIVATIONS.get(act).cuda
    if code is None:
        raise ValueError(f"activation {act!r} has no CUDA code (graph mode trains it eagerly)")
    return code.forward, code.derivative, code.helpers


def ctype_of(dtype: Any) -> str:
    return {"float32": "float", "float64": "double"}[np.dtype(dtype).name]


def gemm_source(dtype: Any, act: str, epi: int, gather: int) -> str:
    f, df, helpers = activation_code(act)
    return _GEMM.format(
        ctype=ctype_of(dtype), tile=TILE, epi=epi, gather=gather, act=f, dact=df, helpers=helpers
    )


def small_source(dtype: Any) -> str:
    return _SMALL.format(ctype=ctype_of(dtype))


def update_source(dtype: Any, optimizer: Any) -> str:
    """The optimizer's `update` kernel (its class's `cuda` source) for this float type."""
    if optimizer.cuda is None:
        raise ValueError(f"optimizer {optimizer.name!r} has no CUDA update kernel")
    return f"#define T {ctype_of(dtype)}\n" + optimizer.cuda


class Kernels:
    """The compiled kernels for one dtype, activation and optimizer; `compile()` before any stream
    capture (compiling and loading a module is not allowed while a stream is capturing)."""

    def __init__(self, cp: Any, dtype: Any, activation: str, slope: float, optimizer: Any) -> None:
        self.cp = cp
        self.dtype = np.dtype(dtype)
        self.activation = activation
        self.slope = self.dtype.type(slope)
        self._gemm: dict[tuple[str, int, int], Any] = {}
        small = cp.RawModule(code=small_source(self.dtype), options=OPTIONS)
        self.softmax_ce_grad = small.get_function("softmax_ce_grad")
        self.column_sum = small.get_function("column_sum")
        update = cp.RawModule(code=update_source(self.dtype, optimizer), options=OPTIONS)
        self.update = update.get_function("update")

    def gemm_kernel(self, act: str, epi: int, gather: int) -> Any:
        key = (act, epi, gather)
        if key not in self._gemm:
            code = gemm_source(self.dtype, act, epi, gather)
            self._gemm[key] = self.cp.RawModule(code=code, options=OPTIONS).get_function("gemm")
        return self._gemm[key]

    def compile(self, keys: list[tuple[str, int, int]]) -> None:
        """Compile and load now: a module cannot be loaded while a stream is capturing."""
        for key in keys:
            self.gemm_kernel(*key).compile()
        for fn in (self.softmax_ce_grad, self.column_sum, self.update):
            fn.compile()

    def gemm(
        self,
        *,
        act: str,
        epi: int,
        gather: int,
        A: Any,
        perm: Any,
        offset: int,
        sa: tuple[int, int],
        B: Any,
        sb: tuple[int, int],
        C: Any,
        ldc: int,
        E: Any,
        m: int,
        n: int,
        k: int,
        Z: Any = None,
    ) -> None:
        """C = epilogue(A @ B) for the strided (and maybe permuted) operands described above, on
        the current stream; Z receives the pre-activation with EPI_BIAS_ACT_KEEP_Z."""
        grid = ((n + TILE - 1) // TILE, (m + TILE - 1) // TILE)
        i64, i32 = np.int64, np.int32
        self.gemm_kernel(act, epi, gather)(
            grid,
            (TILE, TILE),
            (A, perm, i64(offset), i64(sa[0]), i64(sa[1]), B, i64(sb[0]), i64(sb[1]), C,
             i64(ldc), E, C if Z is None else Z, i32(m), i32(n), i32(k), self.slope),
        )  # fmt: skip
