"""NVRTC through ctypes, with no CuPy and no GPU: compile CUDA C for an explicit architecture and
read what ptxas reports per kernel (registers, spills, warnings). Used by the compile check
(cuda/compilecheck.py) and `netlab doctor`; training compiles through CuPy's RawModule.

The library comes from the `cuda-check` extra (the nvidia-cuda-nvrtc-cu12 wheel), a CUDA
toolkit on the library path, or $NETLAB_NVRTC (a path to libnvrtc.so.*).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
import re
from dataclasses import dataclass, field


def find_library() -> str | None:
    """Path or name of libnvrtc, or None when none can be found."""
    if os.environ.get("NETLAB_NVRTC"):
        return os.environ["NETLAB_NVRTC"]
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(glob.glob(os.path.join(root, "**", "libnvrtc.so*"), recursive=True))
        found = [f for f in found if "builtins" not in f and ".alt." not in f]
        if found:
            return found[-1]
    return ctypes.util.find_library("nvrtc")


@dataclass
class KernelInfo:
    """What ptxas reports for one kernel of a module."""

    name: str
    registers: int = 0
    spill_stores: int = 0
    spill_loads: int = 0


@dataclass
class Compiled:
    ok: bool
    log: str
    kernels: list[KernelInfo] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Log lines that are warnings (ptxas's `info` lines and NVRTC's remarks are not)."""
        lines = self.log.splitlines()
        return [s for s in lines if "warning" in s.lower() and not s.startswith("Remark")]


_ENTRY = re.compile(r"Compiling entry function '(\w+)'")
_SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")
_REGS = re.compile(r"Used (\d+) registers")


def parse_ptxas(log: str) -> list[KernelInfo]:
    """Per-kernel registers and spills from an -Xptxas=-v log."""
    kernels: list[KernelInfo] = []
    for line in log.splitlines():
        if m := _ENTRY.search(line):
            kernels.append(KernelInfo(m.group(1)))
        elif kernels and (m := _SPILLS.search(line)):
            kernels[-1].spill_stores, kernels[-1].spill_loads = int(m.group(1)), int(m.group(2))
        elif kernels and (m := _REGS.search(line)):
            kernels[-1].registers = int(m.group(1))
    return kernels


class Nvrtc:
    """A loaded libnvrtc. OSError when it cannot be loaded."""

    def __init__(self, path: str | None = None) -> None:
        path = path or find_library()
        if path is None:
            raise OSError("libnvrtc not found; pip install -e '.[cuda-check]' or set NETLAB_NVRTC")
        self.path = path
        self.lib = ctypes.CDLL(path)
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p

    def version(self) -> tuple[int, int]:
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)))
        return major.value, minor.value

    def _check(self, rc: int) -> None:
        if rc != 0:
            raise RuntimeError(self.lib.nvrtcGetErrorString(rc).decode())

    def compile(self, source: str, options: tuple[str, ...], name: str = "netlab.cu") -> Compiled:
        """Compile `source` with `options` (which should name -arch=sm_XX); ok is False on any
        compile error, and the log holds NVRTC's and ptxas's messages."""
        lib, prog = self.lib, ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(),
                                           0, None, None))  # fmt: skip
        try:
            opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
            rc = lib.nvrtcCompileProgram(prog, len(options), opts)
            size = ctypes.c_size_t()
            self._check(lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size)))
            log = ctypes.create_string_buffer(size.value)
            self._check(lib.nvrtcGetProgramLog(prog, log))
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))
        text = log.value.decode(errors="replace")
        return Compiled(rc == 0, text, parse_ptxas(text))
