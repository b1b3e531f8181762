"""Fused CUDA kernels for a whole training step: GEMM with bias+activation or activation-backward
epilogues (rows read through a permutation), softmax cross-entropy gradient (and, for running
metrics, each row's loss and hit), bias gradients, the optimizer's update, and the counters a
captured chunk of steps advances. CuPy comes from the backend (`backend.xp`), never imported here.

The activation code in the epilogues and the update kernel come from the registries: each
activation's `cuda` (nn/activations.py) and each optimizer's `cuda` (nn/optimizers.py).

What the kernels compute (docs/backends.md, "What the kernels compute"): the NumPy path's formulas
with every multiply and add rounded separately (`--fmad=false`), float32 denormals flushed to zero
(`-ftz=true`, which CuPy's RawModule adds to every module), CUDA's tanh and exp (within 2 ulp of
NumPy's), and sums in a fixed order of their own: a GEMM adds its k products in order of k, a
column sum its rows in order. So results agree with NumPy to rounding, not bit for bit, and are
the same on every run. They exist for CUDA-graph capture (graph.py): CuPy refuses its cuBLAS
wrapper inside stream capture, and a step of the study's small network is ~14 launches, not ~40.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .sources import Variant, gemm_source, module_sources, split_of

MAX_GRID_X = 2**31 - 1  # CUDA's launch limits on blocks per grid dimension
MAX_GRID_Y = 65_535


def gemm_grid(m: int, n: int, tile: int) -> tuple[int, int]:
    """Blocks of a GEMM launch: rows on x (up to 2**31 - 1 blocks), columns on y (65,535).

    A batch of any size the config allows fits on x; columns are layer widths (at most
    nn.layers.MAX_WIDTH = 1,000,000, i.e. 62,500 blocks of 16). ValueError beyond either limit.
    """
    gx, gy = math.ceil(m / tile), math.ceil(n / tile)
    if not (1 <= gx <= MAX_GRID_X and 1 <= gy <= MAX_GRID_Y):
        raise ValueError(
            f"a {m} x {n} GEMM needs a grid of {gx} x {gy} blocks; CUDA allows at most "
            f"{MAX_GRID_X} x {MAX_GRID_Y}"
        )
    return gx, gy


class Kernels:
    """The compiled kernels for one dtype, activation, optimizer and variant; `compile()` before
    any stream capture (compiling and loading a module is not allowed while a stream captures).

    Every launch goes through a method here, on the current stream; the launch geometry lives in
    these methods and the arithmetic in sources.py.
    """

    def __init__(
        self,
        cp: Any,
        dtype: Any,
        activation: str,
        slope: float,
        optimizer: Any,
        variant: Variant | None = None,
    ) -> None:
        self.cp = cp
        self.dtype = np.dtype(dtype)
        self.activation = activation
        self.slope = self.dtype.type(slope)
        self.variant = variant or Variant()
        self.optimizer = optimizer
        self._gemm: dict[tuple, Any] = {}
        self._reduce: dict[tuple, Any] = {}  # split-k GEMMs' splitk_reduce (Variant.split_k)
        fixed = module_sources(self.dtype, optimizer, [], self.variant)
        small = self._module(fixed["small"])
        self._softmax = small.get_function("softmax_ce_grad")
        self._column_sum = small.get_function("column_sum")
        self._batch_stats = small.get_function("batch_stats")
        self._advance = small.get_function("advance")
        self._update = self._module(fixed["update"]).get_function("update")

    def _module(self, code: str) -> Any:
        return self.cp.RawModule(code=code, options=self.variant.options())

    def gemm_kernel(self, key: tuple) -> Any:
        if key not in self._gemm:
            module = self._module(gemm_source(self.dtype, *key, variant=self.variant))
            self._gemm[key] = module.get_function("gemm")
            if split_of(self.variant, key[2]) > 1:
                self._reduce[key] = module.get_function("splitk_reduce")
        return self._gemm[key]

    def compile(self, keys: list[tuple]) -> None:
        """Compile and load now: a module cannot be loaded while a stream is capturing."""
        for key in keys:
            self.gemm_kernel(key).compile()
            if key in self._reduce:
                self._reduce[key].compile()
        for fn in (self._softmax, self._column_sum, self._batch_stats, self._advance, self._update):
            fn.compile()

    def gemm(self, *, act, epi, gather, trans, A, perm, base, offset, sa, B, sb, C, ldc, E, m, n,
             k, Z=None, work=None) -> None:  # fmt: skip
        """C = epilogue(A @ B) for the strided (and maybe permuted) operands of sources._GEMM;
        Z receives the pre-activation with EPI_BIAS_ACT_KEEP_Z. `trans` says which operand is
        stored transposed (its rows contiguous), for the coalescing variant's loads. A split-k
        GEMM (sources.split_of) sums into `work` (split x m x ldc), then splitk_reduce."""
        tile, key = self.variant.tile, (act, epi, gather, trans)
        i64, i32 = np.int64, np.int32
        split = split_of(self.variant, gather)
        Zp = C if Z is None else Z
        self.gemm_kernel(key)(
            gemm_grid(m, n, tile) if split == 1 else (*gemm_grid(m, n, tile), split),
            (tile, tile),
            (A, perm, base, i64(offset), i64(sa[0]), i64(sa[1]), B, i64(sb[0]), i64(sb[1]),
             C if split == 1 else work, i64(ldc), E, Zp, i32(m), i32(n), i32(k), self.slope),
        )  # fmt: skip
        if split > 1:
            self._reduce[key](
                (math.ceil(m * n / 256),), (256,),
                (work, C, i64(ldc), E, Zp, i32(m), i32(n), self.slope),
            )  # fmt: skip

    def softmax_ce_grad(self, z, labels, perm, base, offset, d, m, c, scale, stat=None) -> None:
        """d = (softmax(z) - onehot(labels[perm[base + offset + i]])) * scale, rows i < m; with
        `stat` (float64, 2 x rows) also each row's cross-entropy and whether its argmax is right."""
        self._softmax(
            (math.ceil(m / 128),), (128,),
            (z, labels, perm, base, np.int64(offset), d, np.int32(m), np.int32(c),
             self.dtype.type(scale), d if stat is None else stat, np.int32(stat is not None)),
        )  # fmt: skip

    def column_sum(self, dy, db, m, n) -> None:
        """db[j] = sum of dy[i, j] over rows i < m, in order of i (a fixed order either way)."""
        if self.variant.parallel_column_sum:
            grid, block = (math.ceil(n / 32),), (32, 8)
        else:
            grid, block = (math.ceil(n / 128),), (128,)
        self._column_sum(grid, block, (dy, db, np.int32(m), np.int32(n)))

    def batch_stats(self, stat, sums, m) -> None:
        """sums[0] += the m row losses in stat, sums[1] += the m hits (one block, fixed order)."""
        self._batch_stats((1,), (256,), (stat, sums, np.int32(m)))

    def update(self, w, g, s0, s1, lr, t0, step, n_weights, n, hyper) -> None:
        """The optimizer's update kernel over n parameters (nn/optimizers.py, its CUDA contract)."""
        self._update(
            (math.ceil(n / 256),), (256,),
            (w, g, s0, s1, lr, t0, np.int64(step), np.int64(n_weights), np.int64(n),
             *(np.float64(h) for h in hyper)),
        )  # fmt: skip

    def advance(self, base, t0, rows: int, steps: int) -> None:
        """base[0] += rows, t0[0] += steps: the next captured chunk starts where this one ended."""
        self._advance((1,), (1,), (base, t0, np.int64(rows), np.int64(steps)))
