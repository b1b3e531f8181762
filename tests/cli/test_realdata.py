"""End to end on the full Fashion-MNIST (skipped when absent; CI installs it). Short runs only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from netlab.cli import main

from netlab.data.sources import data_info

pytestmark = pytest.mark.realdata


def test_real_files_verify(real_data):
    info = data_info("fashion-mnist", real_data)
    assert info["checksums_ok"], info["files"]
    assert info["train_count"] == 60000 and info["test_count"] == 10000
    assert info["train_per_class"] == [6000] * 10


def test_short_training_and_eval_on_real_data(real_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(
        ["train", "--epochs", "2", "--out", str(run_dir), "--data-dir", str(real_data), "--json"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (summary["n_train"], summary["n_val"], summary["n_test"]) == (48000, 12000, 10000)
    assert summary["data_checksums_ok"] is True
    assert summary["test_accuracy"] > 0.83  # two epochs of the baseline: ~85%
    assert main(["eval", str(run_dir / "model.npz"), "--json", "--data-dir", str(real_data)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    assert sum(sum(r) for r in report["confusion_matrix"]) == 10000


def test_peak_memory_of_a_baseline_training(real_data, tmp_path):
    """Peak RSS of `netlab train` on the full data stays <= 400 MiB (the arrays are ~220 MiB)."""
    probe = (
        "import resource, subprocess, sys; "
        "rc = subprocess.run(sys.argv[1:]).returncode; "
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    exe = str(Path(sys.executable).parent / "netlab")
    cmd = [
        exe,
        "train",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        str(tmp_path / "r"),
        "--data-dir",
        str(real_data),
    ]
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True
    )
    rc, kib = map(int, out.stdout.split()[-2:])
    assert rc == 0
    assert kib / 1024 <= 400, f"peak RSS {kib / 1024:.0f} MiB"
