"""What `netlab doctor` finds out about a machine (like PyTorch's collect_env): versions, GPUs,
whether graph mode's kernels compile and a tiny captured step matches the eager path. Returns
data; cli/doctor.py prints it."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Line:
    name: str
    detail: str
    ok: bool | None = None  # None: information, not a check


@dataclass
class Diagnosis:
    device: str
    lines: list[Line] = field(default_factory=list)
    unusable: str = ""  # why the device cannot be used at all
    graph_broken: str = ""  # why graph mode would fall back to eager there

    def as_dict(self) -> dict:
        ok = not (self.unusable or self.graph_broken)
        lines = [asdict(x) for x in self.lines]
        return {"device": self.device, "ok": ok, "unusable": self.unusable,
                "graph_broken": self.graph_broken, "lines": lines}  # fmt: skip


def _version(code: int) -> str:
    """CUDA's 12080 -> "12.8"; 0 (what the driver query returns without a driver) -> "none"."""
    return f"{code // 1000}.{code % 1000 // 10}" if code else "none"


def diagnose(device: str = "cuda") -> Diagnosis:
    """Everything `netlab doctor --device DEVICE` reports; never raises for a missing GPU."""
    from .._version import __version__
    from ..errors import BackendError
    from ..nn.backend import get_backend

    d = Diagnosis(device, [Line("netlab", __version__), Line("NumPy", np.__version__)])
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        cupy = None
    d.lines.append(Line("CuPy", cupy.__version__ if cupy else "not installed"))
    if cupy is not None:
        d.lines += _cuda_versions(cupy)
    if device.strip().lower() != "cpu":
        d.lines.append(_driver_line(cupy))
    try:
        backend = get_backend(device, "float32")
    except BackendError as exc:
        d.unusable = str(exc)
        d.lines.append(Line("GPUs", f"none usable ({str(exc).split(';')[0]})", False))
        d.lines.append(_offline_compile())
        return d
    if backend.name != "cuda":
        d.lines.append(Line("device", f"{device}: NumPy on the CPU", True))
        return d
    d.lines += _gpus(cupy)
    d.lines += _graph_lines(d, backend)
    return d


def _driver_line(cupy) -> Line:
    """Which CUDA major version the driver supports and which install extra fits it; whether the
    installed CuPy was built for a newer CUDA than the driver runs."""
    from .driver import driver_advice, driver_cuda_version, extra_for

    version = driver_cuda_version()
    if not version and cupy is not None:
        try:
            version = int(cupy.cuda.runtime.driverGetVersion())
        except Exception:  # no driver: CUDARuntimeError
            version = 0
    advice = driver_advice(version)
    try:
        built = int(cupy.cuda.runtime.runtimeGetVersion()) if cupy is not None else 0
    except Exception:  # CuPy without its CUDA runtime
        built = 0
    if version and built // 1000 > version // 1000:
        extra = extra_for(version) or "cuda12"
        fix = f'pip uninstall it, then pip install -e ".[{extra}]"'
        return Line(
            "driver", f"{advice}; but this CuPy is built for CUDA {built // 1000}: {fix}", False
        )
    return Line("driver", advice, bool(version) and extra_for(version) is not None)


def _cuda_versions(cupy) -> list[Line]:
    rt = cupy.cuda.runtime
    out = []
    for name, get in (("CUDA driver", rt.driverGetVersion), ("CUDA runtime", rt.runtimeGetVersion)):
        try:
            out.append(Line(name, _version(get())))
        except Exception as exc:  # no driver: CUDARuntimeError
            out.append(Line(name, f"unavailable ({type(exc).__name__})"))
    try:
        out.append(Line("NVRTC", ".".join(map(str, cupy.cuda.nvrtc.getVersion()))))
    except Exception as exc:  # the NVRTC library is missing
        out.append(Line("NVRTC", f"unavailable ({type(exc).__name__})"))
    return out


def _gpus(cupy) -> list[Line]:
    out = []
    for i in range(cupy.cuda.runtime.getDeviceCount()):
        p = cupy.cuda.runtime.getDeviceProperties(i)
        name = p["name"].decode() if isinstance(p["name"], bytes) else p["name"]
        gib = p["totalGlobalMem"] / 2**30
        cc = f"{p['major']}.{p['minor']}"
        out.append(Line(f"GPU {i}", f"{name}, {gib:.1f} GiB, compute capability {cc}"))
    return out


def _graph_lines(d: Diagnosis, backend) -> list[Line]:
    """Compile the default setup's kernels on the device, then run the self-check on a tiny
    network: 3 captured steps against eager CuPy."""
    from ..nn.layers import MLP
    from ..nn.optimizers import SGD
    from .fault import GPUStateLost
    from .kernels import Kernels
    from .selfcheck import CHECK_STEPS, self_check
    from .step import gemm_keys

    rng = np.random.default_rng(0)
    model = MLP([64, 32, 10], "tanh", init="xavier", rng=rng, backend=backend)
    opt = SGD(model.flat, model.grad_flat, model.n_weights, lr=0.05, momentum=0.9, backend=backend)
    keys = gemm_keys("tanh", keep_z=False)
    try:
        Kernels(backend.xp, backend.dtype, "tanh", 0.01, opt).compile(keys)
    except Exception as exc:  # CuPy's CompileException, or a driver error while loading
        d.graph_broken = f"the kernels do not compile ({type(exc).__name__}: {exc})"
        return [Line("kernels", d.graph_broken, False)]
    done = f"{len(keys) + 2} modules compile and load (float32, tanh, sgd)"
    lines = [Line("kernels", done, True)]
    rows = 16 * CHECK_STEPS
    X = backend.asarray(rng.standard_normal((rows, 64)), dtype=backend.dtype)
    y = backend.asarray(rng.integers(0, 10, rows).astype(np.int64))
    try:
        cause = self_check(model, opt, X, y, np.arange(rows), 16, "batch")
    except GPUStateLost as exc:  # a sticky fault in the check: nothing more runs on this GPU
        cause = str(exc)
    if cause:
        d.graph_broken = f"the graph-mode self-check fails: {cause}"
        return [*lines, Line("graph step", d.graph_broken, False)]
    return [*lines, Line("graph step", f"{CHECK_STEPS} captured steps match eager CUDA", True)]


def _offline_compile() -> Line:
    """Without a GPU: whether the default setup's kernels (float32, tanh, sgd) compile for sm_80
    and sm_90 with the NVRTC of the cuda-check extra, if it is installed."""
    from ..nn.optimizers import SGD
    from .compilecheck import ARCHS, Job, check
    from .nvrtc import Nvrtc
    from .sources import Variant, module_sources
    from .step import gemm_keys

    try:
        nvrtc = Nvrtc()
    except OSError:
        return Line("kernels", "not compiled (no GPU, and no NVRTC: the cuda-check extra has it)")
    sources = module_sources(np.dtype("float32"), SGD, gemm_keys("tanh", False), Variant())
    jobs = [Job(name, source, Variant().options(), arch)
            for name, source in sources.items() for arch in ARCHS]  # fmt: skip
    report = check(jobs, nvrtc)
    if report.failures:
        return Line("kernels", f"do not compile: {report.failures[0]}", False)
    version = ".".join(map(str, nvrtc.version()))
    return Line("kernels", f"{len(sources)} modules compile for {', '.join(ARCHS)} with NVRTC "
                           f"{version} (offline; no GPU to run them)", True)  # fmt: skip
