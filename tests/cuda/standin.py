"""A NumPy stand-in for CuPy with stream capture, and a NumPy interpreter of the kernels' contract.

`make_cupy()` is a `cupy` module good enough for netlab's eager CUDA branches and for graph mode:
streams whose capture *records* launches instead of running them (a captured graph replays them,
reading device buffers at replay time, as a real graph does), and that refuses what a real capture
refuses or would silently record (allocation, host-to-device copies, fills). `ReferenceKernels`
replaces cuda/kernels.Kernels: argument for argument, each kernel of sources.py written with NumPy
in the kernels' own arithmetic (GEMM and column sums added in the kernels' order, each multiply and
add rounded separately as --fmad=false makes them, float32 denormals flushed as -ftz=true does);
only CUDA's tanh and exp differ from NumPy's (within 2 ulp).
"""

from __future__ import annotations

import math
import types

import numpy as np

from netlab.cuda import sources as S
from netlab.cuda.sources import Variant

_capture: list | None = None  # the launches of the stream capture in progress


class CaptureError(Exception):
    """What a real capture reports after something it refuses (not a RuntimeError, so a test can
    tell it from the error that caused it)."""


_invalid = False
# Failures the stand-in models: CUDA libraries that do not load ("nvrtc", "cublas", "curand"), and
# a sticky fault: once poisoned, every allocation, copy, launch and synchronize raises, as on a
# CUDA context after an illegal address or a launch failure.
FAULTS: dict = {"missing": set(), "poisoned": False}
STICKY_MESSAGE = "cudaErrorIllegalAddress: an illegal memory access was encountered"


class CUDARuntimeError(RuntimeError):
    """CuPy's cupy_backends.cuda.api.runtime.CUDARuntimeError (the CLI recognizes its module)."""


CUDARuntimeError.__module__ = "cupy_backends.cuda.api.runtime"


class LibraryError(RuntimeError):
    """What CuPy raises when it cannot load a CUDA library (cupy/_environment.py)."""


LibraryError.__module__ = "cupy._environment"


def poison() -> None:
    """A sticky fault from now on (reset by make_cupy)."""
    FAULTS["poisoned"] = True


def _check(library: str | None = None) -> None:
    if FAULTS["poisoned"]:
        raise CUDARuntimeError(STICKY_MESSAGE)
    if library in FAULTS["missing"]:
        so = {"cublas": "libcublas.so.12", "nvrtc": "libnvrtc.so.12", "curand": "libcurand.so.10"}
        raise LibraryError(
            f"CuPy failed to load {so[library]}: OSError: {so[library]}: cannot open shared "
            "object file: No such file or directory"
        )


def invalidate() -> None:
    """A launch failed during capture: end_capture then fails too, as CUDA's does."""
    global _invalid
    _invalid = True


def capturing() -> bool:
    return _capture is not None


class HostArray(np.ndarray):
    """A device array of the stand-in: NumPy, plus CuPy's `set`; no copies or fills in capture."""

    def set(self, a, stream=None):
        _refuse("a host-to-device copy")
        _check()
        self[...] = a

    def fill(self, value):
        _refuse("a fill")
        _check()
        super().fill(value)

    def copy(self, order="C"):
        _check()
        return super().copy(order)

    def __matmul__(self, other):
        _check("cublas")
        return super().__matmul__(other)


def _refuse(what: str) -> None:
    if capturing():
        raise CaptureError(f"{what} inside stream capture")


class Graph:
    def __init__(self, launches):
        self.launches = launches
        self.replays = 0

    def launch(self, stream=None):
        _check()
        self.replays += 1
        for fn in self.launches:
            fn()


class Stream:
    def __init__(self, non_blocking=True):
        self.synced = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        if capturing():
            raise CaptureError("a synchronize inside stream capture")
        _check()
        self.synced += 1

    def begin_capture(self):
        global _capture
        if capturing():
            raise CaptureError("a capture inside a capture")
        _capture = []

    def end_capture(self):
        global _capture, _invalid
        launches, _capture = _capture, None
        if launches is None:
            raise CaptureError("end_capture without begin_capture")
        if _invalid:
            _invalid = False
            raise CaptureError("cudaErrorStreamCaptureInvalidated: the capture was invalidated")
        return Graph(launches)


def _zeros(shape, dtype=float):
    _refuse("an allocation")
    _check()
    return np.zeros(shape, dtype).view(HostArray)


def _asarray(a, dtype=None):
    _refuse("an allocation")
    _check()
    return np.array(a, dtype=dtype).view(HostArray)


def _asnumpy(a):
    _check()
    return np.array(a)  # a copy, as from a device


def _copyto(dst, src, **kw):
    _check()
    np.copyto(dst, src, **kw)


class RawModule:
    """CuPy's RawModule for the probe's kernel (cuda/probe.py), run by its contract; NVRTC must
    load. Graph mode's kernels are replaced by ReferenceKernels instead."""

    def __init__(self, code, options=()):
        _check("nvrtc")
        self.code = code

    def get_function(self, name):
        from netlab.cuda.probe import PROBE_KERNEL

        assert name == PROBE_KERNEL and name in self.code, name

        def probe_kernel(grid, block, args):
            _check()
            x, y, n = args
            y.reshape(-1)[:n] = 2 * x.reshape(-1)[:n] + 1

        return probe_kernel


def _random_normal(size=None, dtype=float):
    _check("curand")
    return np.random.default_rng(0).standard_normal(size).astype(dtype).view(HostArray)


def make_cupy(gpus: int = 1, name: str = "Stand-in GPU") -> types.ModuleType:
    """A `cupy` module backed by NumPy: device arrays are host arrays, kernels run at once or,
    inside a capture, when the graph is launched. Resets FAULTS (missing libraries, poison)."""
    FAULTS["missing"], FAULTS["poisoned"] = set(), False
    fake = types.ModuleType("cupy")
    fake.__version__ = "0.0-standin"
    names = "empty ones matmul arange concatenate exp log tanh maximum multiply subtract"
    names += " ascontiguousarray broadcast_to take_along_axis stack"  # the stacks' (nn/stack.py)
    for fn in (names + " divide where sum isfinite sqrt").split():
        setattr(fake, fn, getattr(np, fn))
    fake.zeros, fake.asarray, fake.ndarray = _zeros, _asarray, HostArray
    fake.take = lambda a, indices, axis=None, out=None: np.take(a, indices, axis=axis, out=out)
    fake.asnumpy, fake.copyto, fake.RawModule = _asnumpy, _copyto, RawModule
    fake.random = types.SimpleNamespace(standard_normal=_random_normal)
    current = Stream()
    props = {"name": name.encode(), "totalGlobalMem": 80 * 2**30, "major": 9, "minor": 0}
    fake.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(
            getDeviceCount=lambda: gpus,
            getDeviceProperties=lambda i: dict(props),
            driverGetVersion=lambda: 12080,
            runtimeGetVersion=lambda: 12090,
            deviceSynchronize=_check,
            CUDARuntimeError=CUDARuntimeError,
        ),
        nvrtc=types.SimpleNamespace(getVersion=lambda: _check("nvrtc") or (12, 9)),
        Device=lambda i=0: types.SimpleNamespace(use=lambda: None, id=i),
        Stream=Stream,
        get_current_stream=lambda: current,
    )
    return fake


def _ftz(x: np.ndarray) -> np.ndarray:
    """Flush float32 denormals to (signed) zero, as -ftz=true does to inputs and results."""
    if x.dtype == np.float32:
        tiny = np.finfo(np.float32).tiny
        x = np.where(np.abs(x) < tiny, np.copysign(np.float32(0), x), x).astype(np.float32)
    return x


def _act(name, slope):
    """f(v) and f'(s) of an activation, s being what it saves (y or z)."""
    from netlab.nn.activations import get_activation

    if name == S.IDENTITY:
        return (lambda v: v), (lambda s: np.ones_like(s))
    a = get_activation(name, slope)
    return (lambda v: a.forward(v.copy())), (lambda s: a.backward(s.copy(), np.ones_like(s)))


class ReferenceKernels:
    """What each CUDA kernel computes, written with NumPy, argument for argument; launches made
    inside a stream capture are recorded and run when the graph is launched."""

    def __init__(self, cp, dtype, activation, slope, optimizer, variant=None):
        self.dtype = np.dtype(dtype)
        self.slope = float(slope)
        self.optimizer = optimizer
        self.variant = variant or Variant()
        self.compiled: set = set()
        self.launched: list = []  # (kernel name, gemm key or None), in launch order

    def compile(self, keys):
        self.compiled.update(keys)

    def _launch(self, name, key, fn):
        _check()
        if capturing():
            if key is not None and key not in self.compiled:
                raise CaptureError(f"GEMM {key} would be compiled inside stream capture")
            _capture.append(fn)
        else:
            fn()
        self.launched.append((name, key))

    def gemm(self, *, act, epi, gather, trans, A, perm, base, offset, sa, B, sb, C, ldc, E, m, n,
             k, Z=None, work=None):  # fmt: skip
        # The layout a key declares is the one its strides have (the coalescing variant needs it).
        assert (sa[0] if trans == S.TRANS_A else sa[1]) == 1, (trans, sa)
        assert (sb[0] if trans == S.TRANS_B else sb[1]) == 1, (trans, sb)
        key = (act, epi, gather, trans)

        def run():
            i, j, ll = np.arange(m), np.arange(n), np.arange(k)
            p0 = int(base[0]) + offset
            ri = perm[p0 + i] if gather == S.GATHER_ROWS else i
            rl = perm[p0 + ll] if gather == S.GATHER_COLS else ll
            a = _ftz(A.reshape(-1)[ri[:, None] * sa[0] + rl[None, :] * sa[1]])
            b = _ftz(B.reshape(-1)[ll[:, None] * sb[0] + j[None, :] * sb[1]])
            split = S.split_of(self.variant, gather)
            tile = self.variant.tile
            kc = k if split == 1 else math.ceil(math.ceil(k / split) / tile) * tile  # the kernel's
            acc = np.zeros((m, n), self.dtype)
            for z in range(split):  # a split-k GEMM: each range in order, then ranges in order
                part = np.zeros((m, n), self.dtype)
                for q in range(z * kc, min(k, (z + 1) * kc)):  # products added in order of l
                    part = _ftz(part + _ftz(a[:, q, None] * b[None, q, :]))
                acc = part if z == 0 else _ftz(acc + part)
            if split > 1:
                assert work is not None and work.shape[0] == split
            f, df = _act(act, self.slope)
            at = i[:, None] * ldc + j[None, :]
            if epi == S.EPI_STORE:
                out = acc
            elif epi in (S.EPI_BIAS_ACT, S.EPI_BIAS_ACT_KEEP_Z):
                v = _ftz(acc + E[None, :n])
                out = f(v)
                if epi == S.EPI_BIAS_ACT_KEEP_Z:
                    Z.reshape(-1)[at] = v
            else:
                out = acc * df(E.reshape(-1)[at])
            flat = C.reshape(-1)
            assert np.shares_memory(flat, C)
            flat[at] = _ftz(np.asarray(out, self.dtype))

        self._launch("gemm", key, run)

    def softmax_ce_grad(self, z, labels, perm, base, offset, d, m, c, scale, stat=None):
        T = self.dtype.type

        def run():
            zi = z[:m, :c].copy()
            label = labels[perm[int(base[0]) + offset + np.arange(m)]]
            picked = zi[np.arange(m), label]
            mx = zi.max(axis=1)
            arg = zi.argmax(axis=1)
            e = _ftz(np.exp(zi - mx[:, None]))
            s = np.zeros(m, self.dtype)
            for j in range(c):  # in order of the classes
                s = _ftz(s + e[:, j])
            if stat is not None:  # flat: the m losses, then the m hits (stride m, as the kernel)
                flat = stat.reshape(-1)
                flat[:m] = (np.log(s) - (picked - mx)).astype(np.float64)
                flat[m : 2 * m] = arg == label
            d[:m, :c] = _ftz(e * _ftz(T(scale) / s)[:, None])
            d[np.arange(m), label] -= T(scale)

        self._launch("softmax_ce_grad", None, run)

    def column_sum(self, dy, db, m, n):
        def run():
            lanes = 8 if self.variant.parallel_column_sum else 1
            parts = np.zeros((lanes, n), self.dtype)
            for i in range(m):  # each lane adds every lanes-th row in order
                parts[i % lanes] = _ftz(parts[i % lanes] + dy[i, :n])
            total = parts[0]
            for q in range(1, lanes):
                total = _ftz(total + parts[q])
            db[...] = total

        self._launch("column_sum", None, run)

    def batch_stats(self, stat, sums, m):
        def run():
            part = np.zeros((2, 256))
            flat = stat.reshape(-1)
            for i in range(m):
                part[:, i % 256] += flat[i], flat[m + i]
            half = 128
            while half:
                part[:, :half] += part[:, half : 2 * half]
                half //= 2
            sums[:2] += part[:, 0]

        self._launch("batch_stats", None, run)

    def update(self, w, g, s0, s1, lr, t0, step, n_weights, n, hyper):
        """The optimizer's update, through its own NumPy code, with lr and the step count read
        from the device buffers when the kernel runs."""
        opt = self.optimizer
        assert w is opt.flat and g is opt.grad_flat and n == w.size and n_weights == opt.n_weights
        assert [s0, s1][: len(opt.buffers)] == [opt.state[b] for b in opt.buffers]
        assert tuple(float(h) for h in hyper) == opt.cuda_args()

        def run():
            host = opt.lr, opt.steps  # the kernel reads both from device memory, changes neither
            opt.lr, opt.steps = float(lr[0]), int(t0[0]) + int(step)
            opt.update(g)
            opt.lr, opt.steps = host

        self._launch("update", None, run)

    def advance(self, base, t0, rows, steps):
        def run():
            base[0] += rows
            t0[0] += steps

        self._launch("advance", None, run)
