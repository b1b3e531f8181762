"""`netlab doctor`: without CuPy, with the NumPy stand-in for CuPy (a GPU that works), and with
kernels that fail the graph-mode self-check."""

from __future__ import annotations

import json
import sys

import pytest
from netlab.cli import main
from standin import ReferenceKernels

from netlab.cuda import kernels as K
from netlab.cuda.doctor import diagnose


def run(capsys, *args):
    code = main(["doctor", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_without_cupy_it_says_so_and_fails_for_cuda(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    code, out, err = run(capsys)
    assert code == 2
    assert "CuPy          not installed" in out and "GPUs          none usable" in out
    (line,) = err.strip().splitlines()
    assert line.startswith("error: --device cuda cannot work here: CuPy is not installed;")
    code, out, err = run(capsys, "--device", "cpu", "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["ok"] and report["device"] == "cpu"
    assert [x["name"] for x in report["lines"]] == ["netlab", "NumPy", "CuPy", "device"]


def test_with_a_working_gpu_every_check_passes(standin, capsys):
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    assert "GPU 0         Stand-in GPU, 80.0 GiB, compute capability 9.0" in out
    assert "CUDA driver   12.8" in out and "CUDA runtime  12.9" in out
    assert "NVRTC         12.9" in out
    assert "kernels       9 modules compile and load (float32, tanh, sgd) ok" in out
    assert "graph step    3 captured steps match eager CUDA ok" in out
    code, out, _ = run(capsys, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["unusable"] == report["graph_broken"] == ""


def test_a_failing_graph_step_is_reported_with_its_cause(standin, monkeypatch, capsys):
    class Broken(ReferenceKernels):
        def advance(self, base, t0, rows, steps):
            raise RuntimeError("cudaErrorLaunchOutOfResources: too many resources requested")

    monkeypatch.setattr(K, "Kernels", Broken)
    code, out, err = run(capsys)
    assert code == 1
    assert "graph step    the graph-mode self-check fails: RuntimeError" in out and "FAILED" in out
    assert err.startswith("error: graph mode does not work on cuda: the graph-mode self-check")


def test_the_library_part_prints_nothing(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)
    found = diagnose("cuda")
    assert capsys.readouterr() == ("", "")
    assert found.unusable.startswith("CuPy is not installed")


@pytest.mark.cuda
def test_on_a_gpu_every_check_passes(capsys):
    code, out, err = run(capsys)
    assert code == 0, out + err


def test_it_names_the_cuda_the_driver_supports_and_the_extra_that_fits(standin, capsys):
    """Issue 23 item 1: the stand-in's driver supports CUDA 12.8 (where libcuda is absent)."""
    from netlab.cuda import driver

    code, out, _ = run(capsys)
    assert code == 0
    if not driver.driver_cuda_version():
        assert 'driver        supports CUDA 12.8; install with pip install -e ".[cuda12]"' in out
    assert driver.extra_for(12080) == "cuda12" and driver.extra_for(13000) == "cuda13"
    assert driver.extra_for(14010) == "cuda13" and driver.extra_for(11080) is None
    assert "update the NVIDIA driver" in driver.driver_advice(11080)
    assert driver.install_command(13000) == 'pip install -e ".[cuda13]"'
    assert driver.install_command(0) == 'pip install -e ".[cuda]"'


@pytest.mark.parametrize(
    "library,piece", [("cublas", "cuBLAS"), ("nvrtc", "NVRTC (CUDA's run-time compiler)")]
)
def test_a_missing_cuda_library_is_one_line_naming_it_and_the_fix(standin, capsys, library, piece):
    """Issue 23 item 2: the probe before training finds what the first kernel would have hit."""
    from standin import FAULTS

    FAULTS["missing"].add(library)
    code, out, err = run(capsys)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: --device cuda cannot work here: {piece} does not work on ")
    assert "cannot open shared object file" in line and 'pip install -e ".[cuda' in line


def test_a_sticky_fault_in_the_graph_check_is_reported_not_raised(standin, monkeypatch, capsys):
    from standin import STICKY_MESSAGE, CUDARuntimeError, poison

    class Faults(ReferenceKernels):
        def advance(self, base, t0, rows, steps):
            poison()
            raise CUDARuntimeError(STICKY_MESSAGE)

    monkeypatch.setattr(K, "Kernels", Faults)
    code, out, err = run(capsys)
    assert (
        code == 1 and "graph step    the graph-mode self-check fails: the GPU state is lost" in out
    )
    assert len(err.strip().splitlines()) == 1
