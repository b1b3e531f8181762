"""CUDA failures as netlab errors: which exceptions come from CuPy or CUDA, whether one left the
CUDA context poisoned (a sticky fault: every later call in this process fails too), and the one
line a user gets for each. No CuPy import: exceptions are recognized by where their class lives."""

from __future__ import annotations

from typing import Any

from ..errors import NetlabError

# CUDA errors after which the context is unusable until the process exits (CUDA's "sticky" errors).
STICKY = (
    "cudaErrorIllegalAddress", "cudaErrorLaunchFailure", "cudaErrorIllegalInstruction",
    "cudaErrorMisalignedAddress", "cudaErrorHardwareStackError", "cudaErrorInvalidPc",
    "cudaErrorAssert", "cudaErrorECCUncorrectable", "cudaErrorUnknown",
    "CUDA_ERROR_ILLEGAL_ADDRESS", "CUDA_ERROR_LAUNCH_FAILED", "CUDA_ERROR_ILLEGAL_INSTRUCTION",
    "CUDA_ERROR_MISALIGNED_ADDRESS", "CUDA_ERROR_HARDWARE_STACK_ERROR", "CUDA_ERROR_ASSERT",
    "CUDA_ERROR_ECC_UNCORRECTABLE",
)  # fmt: skip


class GPUStateLost(NetlabError):
    """The CUDA context is poisoned: nothing more can run on the GPU in this process. The CLI adds
    where the run's last checkpoint is and how to resume it."""

    exit_code = 1


def is_gpu_error(exc: BaseException) -> bool:
    """True for an exception raised by CuPy or CUDA (cupy.*, cupy_backends.*, cuda.*)."""
    for cls in type(exc).__mro__:
        root = (cls.__module__ or "").split(".")[0]
        if root in ("cupy", "cupy_backends", "cupyx", "cuda"):
            return True
    return False


def describe(exc: BaseException) -> str:
    """`Type: first line of the message`, at most 200 characters, on one line."""
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text[:200]}"


def context_lost(cp: Any, exc: BaseException | None = None) -> bool:
    """Whether the CUDA context is poisoned: `exc` names a sticky error, or a device-wide
    synchronize and a tiny allocation and copy back fail (they would on a poisoned context)."""
    if exc is not None and any(name in str(exc) for name in STICKY):
        return True
    try:
        cp.cuda.runtime.deviceSynchronize()
        cp.asnumpy(cp.zeros(1))
    except Exception:  # any CUDA error here: the context cannot run work any more
        return True
    return False


def lost(exc: BaseException) -> GPUStateLost:
    return GPUStateLost(
        f"the GPU state is lost ({describe(exc)}); CUDA cannot continue in this process"
    )


def gpu_failure(exc: BaseException) -> GPUStateLost | None:
    """The GPUStateLost a failed training becomes (sticky faults, and CuPy/CUDA errors that
    reached the command), or None for any other error."""
    if isinstance(exc, GPUStateLost):
        return exc
    if is_gpu_error(exc):
        if any(name in str(exc) for name in STICKY):
            return lost(exc)
        return GPUStateLost(f"the GPU failed ({describe(exc)})")
    return None


def user_message(exc: BaseException) -> str:
    """The one line for a CuPy/CUDA exception that reached the CLI uncaught."""
    if any(name in str(exc) for name in STICKY):
        return f"{lost(exc)}; run the command again (--device cpu works too)"
    return (
        f"the GPU failed ({describe(exc)}); netlab doctor checks this machine's CUDA setup, "
        "--device cpu avoids it"
    )
