"""The CUDA C of graph mode's kernels, the NVRTC options they are compiled with, and the kernel
variants benchmarks/gpu.py compares. `module_sources` is the one function that turns (dtype,
activation, optimizer, GEMM keys, variant) into module sources: cuda/kernels.py loads what it
returns and cuda/compilecheck.py compiles all of it without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

IDENTITY = "identity"  # the output layer: no activation

# Epilogues of the GEMM: plain store; + bias then activation; times f'(s) of the saved s (the
# activation's output y or input z, as its `saves` declares); + bias then activation, also
# keeping the pre-activation z (for activations whose derivative needs z).
EPI_STORE, EPI_BIAS_ACT, EPI_ACT_BACKWARD, EPI_BIAS_ACT_KEEP_Z = 0, 1, 2, 3
# Which operand index goes through the row permutation: none, A's rows (i), A's columns (l).
GATHER_NONE, GATHER_ROWS, GATHER_COLS = 0, 1, 2
# Which operand is stored transposed (its rows contiguous): none, A (x.T in dW = x.T @ dy), B (W.T
# in dx = dy @ W.T). Only the coalescing variant loads them differently.
TRANS_NONE, TRANS_A, TRANS_B = 0, 1, 2


@dataclass(frozen=True)
class Variant:
    """How the kernels are built. The default is what training uses; the others are alternatives
    for one GPU run of benchmarks/gpu.py to compare (docs/backends.md, "Kernel variants").

    fmad: let NVRTC contract a multiply and an add into one FMA (faster, rounds once instead of
        twice, so further from the NumPy path's separately rounded products and sums).
    tile: GEMM tile edge, 16, 8 or 32 (8: four times the blocks for skinny shapes, e.g. the
        baseline's first layer at batch 128 runs 8 x 4 = 32 blocks of 16 x 16 on 132 SMs; 32:
        a wider tile, a quarter of the k-tile iterations and 1,024 threads per block).
    coalesced: load the transposed operand of the dW and dx GEMMs so that neighbouring threads
        read neighbouring addresses (the default reads them with a stride of a layer width).
    parallel_column_sum: bias gradients with 8 threads per column instead of one.
    split_k: the first layer's forward GEMM (k = the input width, 784: 49 serial tiles of 16 on
        only 32 blocks at batch 128) split into this many k-ranges on blockIdx.z, each summed in
        order into a workspace, then added in order of the range by `splitk_reduce`, which
        applies the epilogue (one launch more per step; deterministic, no atomics).
    """

    fmad: bool = False
    tile: int = 16
    coalesced: bool = False
    parallel_column_sum: bool = False
    split_k: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.split_k <= 16:
            raise ValueError(f"split_k must be in [1, 16]; got {self.split_k}")
        if self.tile not in (8, 16, 32):
            raise ValueError(f"tile must be 8, 16 or 32; got {self.tile}")

    @property
    def name(self) -> str:
        parts = [("fmad", self.fmad), ("tile8", self.tile == 8), ("tile32", self.tile == 32),
                 ("coalesced", self.coalesced), (f"splitk{self.split_k}", self.split_k > 1),
                 ("parallel-colsum", self.parallel_column_sum)]  # fmt: skip
        return "+".join(p for p, on in parts if on) or "default"

    def options(self) -> tuple[str, ...]:
        """What netlab passes to NVRTC. -ftz=true and the C++ standard are stated, not left to
        CuPy: its RawModule appends -ftz=true to every module (a later -ftz wins, so it cannot
        be turned off) and adds --std=c++17 only where no standard is given."""
        return (f"--fmad={'true' if self.fmad else 'false'}", "-ftz=true", "--std=c++17")


_EACH = (Variant(), Variant(fmad=True), Variant(tile=8), Variant(tile=32), Variant(coalesced=True),
         Variant(parallel_column_sum=True), Variant(split_k=7), Variant(tile=8, split_k=7),
         Variant(True, 8, True, True))  # fmt: skip
VARIANTS = {v.name: v for v in _EACH}  # benchmarks/gpu.py --variants compares these

_GEMM = r"""
#define T {ctype}
#define TILE {tile}
#define EPI {epi}
#define GATHER {gather}
#define LOAD_A_T {load_a_t}
#define LOAD_B_T {load_b_t}
#define SPLIT {split}
{helpers}
__device__ __forceinline__ T act_f(T v, T slope) {{ return {act}; }}
__device__ __forceinline__ T act_df(T s, T slope) {{ return {dact}; }}

// C[i, j] = epilogue(sum_l A(i, l) * B(l, j)), i < m, j < n, l < k, the products added to one
// accumulator in order of l, with A(i, l) = A[ri * sa0 + rl * sa1] (ri or rl mapped through
// perm[base[0] + offset + .] per GATHER) and B(l, j) = B[l * sb0 + j * sb1]; C row-major with
// leading dimension ldc. Rows go on blockIdx.x (2^31 - 1 blocks), columns on blockIdx.y (65,535).
// With SPLIT > 1, blockIdx.z sums the k-range [z kc, (z + 1) kc) into C[z m ldc + ...] (a
// workspace) and splitk_reduce below adds the ranges in order of z and applies the epilogue.
__device__ __forceinline__ void epilogue(T acc, long long at, int col, T* C, const T* E, T* Z,
                                         T slope)
{{
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

extern "C" __global__ void gemm(
    const T* __restrict__ A, const long long* __restrict__ perm,
    const long long* __restrict__ base, long long offset, long long sa0, long long sa1,
    const T* __restrict__ B, long long sb0, long long sb1, T* __restrict__ C, long long ldc,
    const T* __restrict__ E, T* __restrict__ Z, int m, int n, int k, T slope)
{{
    __shared__ T As[TILE][TILE + 1];
    __shared__ T Bs[TILE][TILE + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row0 = blockIdx.x * TILE, col0 = blockIdx.y * TILE;
    // Which tile entry this thread loads: transposed loads put neighbouring threads on
    // neighbouring rows of A (or B), which are contiguous when that operand is transposed.
    const int ar = LOAD_A_T ? tx : ty, ac = LOAD_A_T ? ty : tx;
    const int br = LOAD_B_T ? tx : ty, bc = LOAD_B_T ? ty : tx;
    const int ai = row0 + ar, bj = col0 + bc;
#if GATHER != 0
    const long long p0 = base[0] + offset;
#endif
    long long ri = ai;
#if GATHER == 1
    if (ai < m) ri = perm[p0 + ai];
#endif
    const int kc = SPLIT > 1 ? ((k + SPLIT - 1) / SPLIT + TILE - 1) / TILE * TILE : k;
    const int k0 = SPLIT > 1 ? blockIdx.z * kc : 0, k1 = min(k, k0 + kc);
    T acc = (T)0;
    for (int t = k0; t < k1; t += TILE) {{
        const int la = t + ac;
        T a = (T)0;
        if (ai < m && la < k1) {{
            long long rl = la;
#if GATHER == 2
            rl = perm[p0 + la];
#endif
            a = A[ri * sa0 + rl * sa1];
        }}
        As[ar][ac] = a;
        const int lb = t + br;
        Bs[br][bc] = (lb < k1 && bj < n) ? B[(long long)lb * sb0 + (long long)bj * sb1] : (T)0;
        __syncthreads();
#pragma unroll
        for (int q = 0; q < TILE; ++q) acc += As[ty][q] * Bs[q][tx];
        __syncthreads();
    }}
    const int row = row0 + ty, col = col0 + tx;
    if (row >= m || col >= n) return;
    const long long at = (long long)row * ldc + col;
#if SPLIT > 1
    C[(long long)blockIdx.z * m * ldc + at] = acc;
#else
    epilogue(acc, at, col, C, E, Z, slope);
#endif
}}

#if SPLIT > 1
// C = epilogue(P[0] + ... + P[SPLIT - 1]) element by element, the ranges added in order of z.
extern "C" __global__ void splitk_reduce(const T* __restrict__ P, T* __restrict__ C,
    long long ldc, const T* __restrict__ E, T* __restrict__ Z, int m, int n, T slope)
{{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)m * n) return;
    const int row = (int)(i / n), col = (int)(i % n);
    const long long at = (long long)row * ldc + col;
    T acc = P[at];
    for (int z = 1; z < SPLIT; ++z) acc += P[(long long)z * m * ldc + at];
    epilogue(acc, at, col, C, E, Z, slope);
}}
#endif
"""

_SMALL = r"""
#define T {ctype}
#define PARALLEL_COLUMN_SUM {parallel}
// d = (softmax(z) - onehot(label)) * scale, row by row (one thread per row, sums in order of
// the classes); label = labels[perm[base[0] + offset + i]]; z may alias d. With running != 0,
// stat[i] = the row's cross-entropy (log-sum-exp minus the label's logit) and stat[m + i] = 1
// if its first largest logit is the label's, else 0.
extern "C" __global__ void softmax_ce_grad(
    const T* z, const long long* __restrict__ labels, const long long* __restrict__ perm,
    const long long* __restrict__ base, long long offset, T* d, int m, int c, T scale,
    double* stat, int running)
{{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= m) return;
    const T* zi = z + (long long)i * c;
    T* di = d + (long long)i * c;
    const long long label = labels[perm[base[0] + offset + i]];
    const T picked = zi[label];
    T mx = zi[0];
    int arg = 0;
    for (int j = 1; j < c; ++j) if (zi[j] > mx) {{ mx = zi[j]; arg = j; }}
    T s = (T)0;
    for (int j = 0; j < c; ++j) {{ const T e = exp(zi[j] - mx); di[j] = e; s += e; }}
    if (running) {{
        stat[i] = (double)(log(s) - (picked - mx));
        stat[m + i] = arg == label ? 1.0 : 0.0;
    }}
    const T f = scale / s;
    for (int j = 0; j < c; ++j) di[j] *= f;
    di[label] -= scale;
}}

// db[j] = sum_i dy[i, j], rows added in order of i: one thread per column, or (parallel) 8
// threads per column, each adding every 8th row in order, then the 8 partial sums in order.
extern "C" __global__ void column_sum(const T* __restrict__ dy, T* __restrict__ db, int m, int n)
{{
#if PARALLEL_COLUMN_SUM
    __shared__ T part[8][32];
    const int j = blockIdx.x * 32 + threadIdx.x;
    T s = (T)0;
    if (j < n) for (int i = threadIdx.y; i < m; i += 8) s += dy[(long long)i * n + j];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y != 0 || j >= n) return;
    for (int q = 1; q < 8; ++q) s += part[q][threadIdx.x];
    db[j] = s;
#else
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    T s = (T)0;
    for (int i = 0; i < m; ++i) s += dy[(long long)i * n + j];
    db[j] = s;
#endif
}}

// sums[0] += stat[0 .. m), sums[1] += stat[m .. 2m): one block of 256 threads, each adding every
// 256th row in order, then a tree over the threads (the same order on every run).
extern "C" __global__ void batch_stats(const double* __restrict__ stat, double* sums, int m)
{{
    __shared__ double part[2][256];
    const int t = threadIdx.x;
    double loss = 0.0, right = 0.0;
    for (int i = t; i < m; i += 256) {{ loss += stat[i]; right += stat[m + i]; }}
    part[0][t] = loss;
    part[1][t] = right;
    __syncthreads();
    for (int half = 128; half > 0; half >>= 1) {{
        if (t < half) {{ part[0][t] += part[0][t + half]; part[1][t] += part[1][t + half]; }}
        __syncthreads();
    }}
    if (t == 0) {{ sums[0] += part[0][0]; sums[1] += part[1][0]; }}
}}

// The last node of a captured chunk of steps: the next chunk reads its rows from base[0] on and
// counts its optimizer steps from t0[0] on.
extern "C" __global__ void advance(long long* base, long long* t0, long long rows, long long steps)
{{
    base[0] += rows;
    t0[0] += steps;
}}
"""


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


def gemm_source(dtype: Any, act: str, epi: int, gather: int, trans: int, variant: Variant) -> str:
    f, df, helpers = activation_code(act)
    return _GEMM.format(
        ctype=ctype_of(dtype), tile=variant.tile, epi=epi, gather=gather, act=f, dact=df,
        helpers=helpers, load_a_t=int(variant.coalesced and trans == TRANS_A),
        load_b_t=int(variant.coalesced and trans == TRANS_B), split=split_of(variant, gather),
    )  # fmt: skip


def split_of(variant: Variant, gather: int) -> int:
    """k-ranges of a GEMM under `variant`: split_k for the first layer's forward GEMM (the one
    that reads X's rows through the permutation), 1 for every other."""
    return variant.split_k if gather == GATHER_ROWS else 1


def small_source(dtype: Any, variant: Variant) -> str:
    return _SMALL.format(ctype=ctype_of(dtype), parallel=int(variant.parallel_column_sum))


def update_source(dtype: Any, optimizer: Any) -> str:
    """The optimizer's `update` kernel (its class's `cuda` source) for this float type."""
    if optimizer.cuda is None:
        raise ValueError(f"optimizer {optimizer.name!r} has no CUDA update kernel")
    return f"#define T {ctype_of(dtype)}\n" + optimizer.cuda


def module_sources(dtype: Any, optimizer: Any, gemm_keys: list[tuple], variant: Variant) -> dict:
    """name -> CUDA source of every module one training setup loads: "small" (softmax, column
    sums, batch statistics, advance), "update" (the optimizer's), and one GEMM per key
    (activation, epilogue, gather, trans) as cuda/step.py's gemm_keys lists them."""
    sources = {"small": small_source(dtype, variant), "update": update_source(dtype, optimizer)}
    for key in gemm_keys:
        sources["gemm " + " ".join(map(str, key))] = gemm_source(dtype, *key, variant=variant)
    return sources
