"""The compile check: every CUDA module netlab can instantiate, compiled with NVRTC for the GPUs
netlab targets, with no GPU. Run by tests/cuda/test_compile.py in `make test` (the `cuda-check`
extra installs NVRTC), and by `netlab doctor` for the modules of the default training setup.

The plan comes from the code that instantiates the kernels: every registered activation and
optimizer with CUDA code, both float types, the GEMMs step.gemm_keys lists for them, through
sources.module_sources. The options are those of CuPy's RawModule: netlab's own (Variant.options),
then what CuPy 14 adds (cupy/cuda/compiler.py): -ftz=true (stated by netlab already), -arch=sm_XX
(it compiles straight to the device's SASS), --device-as-default-execution-space. -Xptxas=-v only
makes ptxas report registers and spills.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .nvrtc import Compiled, Nvrtc
from .sources import VARIANTS, Variant, module_sources
from .step import gemm_keys

ARCHS = ("sm_80", "sm_90")  # A100, H100/H200
DTYPES = ("float32", "float64")
CUPY_ADDS = ("--device-as-default-execution-space",)
REPORT = ("-Xptxas=-v",)


def module_plan(
    variant: Variant | None = None, dtypes: tuple[str, ...] = DTYPES, activations=None
) -> dict[str, str]:
    """Name -> source of every distinct module for these float types and activations (default:
    every registered activation with CUDA code) and every optimizer with CUDA code."""
    from ..nn.activations import ACTIVATIONS
    from ..nn.optimizers import OPTIMIZERS

    variant = variant or Variant()
    acts = activations or [n for n, a in ACTIVATIONS.items() if a.cuda is not None]
    optimizers = [cls for _, cls in OPTIMIZERS.items() if cls.cuda is not None]
    plan: dict[str, str] = {}
    seen: set[str] = set()
    for dtype in dtypes:
        for act in acts:
            keys = gemm_keys(act, ACTIVATIONS.get(act).saves == "z")
            for opt in optimizers:
                for name, source in module_sources(np.dtype(dtype), opt, keys, variant).items():
                    if source not in seen:
                        seen.add(source)
                        label = f"{opt.name} update" if name == "update" else name
                        plan[f"{variant.name} {dtype} {label}"] = source
    return plan


@dataclass(frozen=True)
class Job:
    module: str
    source: str
    options: tuple[str, ...]
    arch: str


def compile_jobs(variants: dict[str, Variant] | None = None) -> list[Job]:
    """Every distinct (source, options, arch) to check: the default build's whole plan for every
    arch in ARCHS, and each alternative of sources.VARIANTS for float32 (what benchmarks/gpu.py
    runs) on sm_90 (the H200 a GPU run is lent)."""
    variants = VARIANTS if variants is None else variants
    todo = [(Variant(), DTYPES, ARCHS)]
    todo += [(v, ("float32",), ("sm_90",)) for v in variants.values() if v != Variant()]
    jobs, seen = [], set()
    for variant, dtypes, archs in todo:
        options = variant.options()
        for name, source in module_plan(variant, dtypes).items():
            for arch in archs:
                if (source, options, arch) not in seen:
                    seen.add((source, options, arch))
                    jobs.append(Job(name, source, options, arch))
    return jobs


@dataclass
class Result:
    job: Job
    compiled: Compiled

    @property
    def problems(self) -> list[str]:
        """Why this module fails the check: errors, warnings, spills (empty when it passes)."""
        c, out = self.compiled, []
        if not c.ok:
            out.append("does not compile: " + " | ".join(c.log.strip().splitlines()[:5]))
        out += [f"warning: {w.strip()}" for w in c.warnings]
        out += [f"kernel {k.name} spills {k.spill_stores} bytes" for k in c.kernels
                if k.spill_stores or k.spill_loads]  # fmt: skip
        return out


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        return [f"{r.job.module} ({r.job.arch}): {p}" for r in self.results for p in r.problems]

    @property
    def max_registers(self) -> tuple[int, str]:
        """(registers, "module: kernel (arch)") of the kernel that uses the most."""
        best = (0, "")
        for r in self.results:
            for k in r.compiled.kernels:
                best = max(best, (k.registers, f"{r.job.module}: {k.name} ({r.job.arch})"))
        return best

    def summary(self) -> str:
        regs, where = self.max_registers
        archs = ", ".join(sorted({r.job.arch for r in self.results}))
        kernels = sum(len(r.compiled.kernels) for r in self.results)
        return (
            f"{len(self.results)} modules ({kernels} kernels; {archs}) compiled in "
            f"{self.seconds:.1f} s: {len(self.failures)} problems; at most {regs} registers "
            f"({where})"
        )


def check(jobs: list[Job], nvrtc: Nvrtc | None = None) -> Report:
    """Compile every job with the options RawModule would use, plus -Xptxas=-v."""
    nvrtc = nvrtc or Nvrtc()
    started = time.perf_counter()
    results = []
    for job in jobs:
        options = (*job.options, *CUPY_ADDS, f"-arch={job.arch}", *REPORT)
        results.append(Result(job, nvrtc.compile(job.source, options)))
    return Report(results, time.perf_counter() - started)
