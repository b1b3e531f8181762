"""benchmarks/gpu.py: its FLOP count (issue 17 item 7), its one-line refusal without a GPU, and
(cuda-marked) a short run with the kernel variants side by side."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def test_each_section_writes_the_json_and_a_failure_is_recorded_not_fatal(tmp_path):
    """Issue 23 item 7: the JSON was written once at the end, so one failed section lost all."""
    gpu = _module()
    path = tmp_path / "gpu.json"
    seen = []

    def second(results):
        seen.append(json.loads(path.read_text()))  # the first section is on disk already
        raise RuntimeError("cudaErrorLaunchTimeout: the launch timed out")

    todo = [("one", lambda r: r.update(one=1)), ("two", second),
            ("three", lambda r: r.update(three=3))]  # fmt: skip
    results = {"cases": {}}
    gpu.run_sections(todo, results, str(path))
    assert seen[0]["one"] == 1
    written = json.loads(path.read_text())
    assert written["three"] == 3 and set(written["section_seconds"]) == {"one", "two", "three"}
    assert written["errors"] == {
        "two": "RuntimeError: cudaErrorLaunchTimeout: the launch timed out"
    }
    gpu.summarize(written)  # a partial result still summarizes


def test_the_variant_to_train_with_is_picked_by_measurement():
    """Item 8: the fastest variant whose self-check matches eager, never a mismatching one."""
    gpu = _module()
    rows = {"default": {"seconds_per_epoch": 0.05, "self_check": "matches eager"},
            "tile8": {"seconds_per_epoch": 0.03, "self_check": "matches eager"},
            "fmad": {"seconds_per_epoch": 0.01, "self_check": "W1 differs"}}  # fmt: skip
    assert gpu.fastest_variant(rows) == "tile8"
    assert gpu.fastest_variant({"fmad": rows["fmad"]}) is None


def test_the_variants_run_side_by_side_on_the_stand_in(standin, monkeypatch):
    """The benchmark's variant section, wired through netlab's graph runner and self-check on the
    stand-in (timings mean nothing here: only the wiring and the pick are checked)."""
    from netlab.cuda.sources import VARIANTS

    gpu = _module()
    monkeypatch.setitem(gpu.CASES, "baseline", {**gpu.CASES["baseline"], "hidden": (6,)})
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    results: dict = {}
    args = type("Args", (), {"epochs": 1})()
    gpu.run_variants(args, X, y, results)
    assert set(results["variants"]) == set(VARIANTS)
    assert all(r["self_check"] == "matches eager" for r in results["variants"].values())
    assert results["fastest_variant"] in VARIANTS


def test_the_smoke_stage_passes_on_the_stand_in(standin, capsys):
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT.parents[1] / "scripts"
                                                  / "gpu_smoke.py")  # fmt: skip
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    assert smoke.main() == 0
    out = capsys.readouterr().out
    assert "probe: ok" in out and "one graph step vs one plain step: match" in out
