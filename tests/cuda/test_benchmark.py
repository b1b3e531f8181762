"""benchmarks/gpu.py: its FLOP count (issue 17 item 7), its one-line refusal without a GPU, and
(cuda-marked) a short run with the kernel variants side by side."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_are_counted_as_the_code_computes_them():
    """Forward and dW for both layers, dx only for the second: 2 FLOPs per multiply-add. The old
    count (6 per weight) included the first layer's dx, which neither netlab nor PyTorch does."""
    gpu = _module()
    case = {"hidden": (3,)}  # 784-3-10
    n = 5
    forward = dw = 784 * 3 + 3 * 10
    dx = 3 * 10
    assert gpu.flops_per_epoch(case, n) == 2 * n * (forward + dw + dx)
    baseline = gpu.flops_per_epoch(gpu.CASES["baseline"], 48_000)
    old = 6.0 * (784 * 50 + 50 * 50 + 50 * 10) * 48_000
    assert (old - baseline) / old == pytest.approx(0.31, abs=0.005)  # the 31%


def test_gpu_benchmark_without_a_gpu_is_one_line():
    from netlab.nn.backend import cuda_available

    if cuda_available():
        pytest.skip("a GPU is present; the cuda-marked benchmark test runs instead")
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: benchmarks/gpu.py needs")


@pytest.mark.cuda
def test_gpu_benchmark_runs_with_the_kernel_variants(tmp_path):
    from netlab.cuda.sources import VARIANTS

    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(SCRIPT), "--epochs", "1", "--data", "synthetic", "--skip-large",
           "--skip-accuracy", "--variants", "--json", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=600)
    results = json.loads(out.read_text())
    assert {"netlab graph", "netlab eager"} <= set(results["cases"]["baseline"])
    assert set(results["variants"]) == set(VARIANTS)
    assert all(r["self_check"] == "matches eager" for r in results["variants"].values())
