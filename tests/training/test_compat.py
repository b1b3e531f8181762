"""Runs written before a config field existed resume and are re-used after it is added."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netlab.config import Config, config_diff, load_config, same_run, with_overrides
from netlab.schema import SCHEMA_VERSION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NETLAB = str(Path(sys.executable).with_name("netlab"))
# The BLAS settings the fixture was made with: OpenBLAS's kernel choice changes the last bits.
ENV = {"OPENBLAS_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512",
       "PATH": "/usr/bin:/bin"}  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


# The fixture was computed on another CPU (an AMD EPYC); the OpenBLAS settings above pin its GEMM
# kernels, but NumPy's float32 tanh and exp dispatch on the CPU's features and another NumPy or
# OpenBLAS build may round differently. So the resumed run is compared with netlab 0.2's end within
# float32 rounding of two epochs (observed on this Intel Xeon and on the AMD EPYC: identical), not
# bit for bit; bit-identical resumes on one machine are tested in tests/cli/test_resume.py and
# tests/test_registries.py.
RTOL = 1e-5


def test_a_netlab_0_2_run_resumes_where_it_ended(tmp_path):
    """Checkpoint format 1 and a schema-1 config (no optimizer, beta1, ..., augment, path fields):
    today's netlab continues it from epoch 2 to the weights netlab 0.2 ended with."""
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "v0.2-run", run)
    old = (run / "config.toml").read_text()
    assert "schema" not in old and "optimizer" not in old
    done = subprocess.run([NETLAB, "train", "--resume", str(run), "-q"], env=ENV,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    full = FIXTURES / "v0.2-full"
    with np.load(run / "model.npz") as a, np.load(full / "model.npz") as b:
        for name in b.files:
            if name != "metadata":
                np.testing.assert_allclose(a[name], b[name], rtol=RTOL, atol=RTOL, err_msg=name)
    ours_h, theirs_h = _rows(run / "history.csv"), _rows(full / "history.csv")
    assert [r.keys() for r in ours_h] == [r.keys() for r in theirs_h]
    for r, t in zip(ours_h, theirs_h, strict=True):
        for key, value in t.items():
            near = 2e-3 if "accuracy" in key else 0.0  # accuracies: 2 images of 1,000 may flip
            assert float(r[key]) == pytest.approx(float(value), rel=RTOL, abs=near), key
    ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (run, full))
    assert abs(ours["test_accuracy"] - theirs["test_accuracy"]) <= 2e-3  # 2 of 1,000 images


def test_configs_compare_by_resolved_value_not_text(tmp_path):
    old = load_config(FIXTURES / "v0.2-run" / "config.toml")
    new = Config().resolved()
    assert old.training.optimizer == "sgd" and old.training.lr == 0.05
    text = with_overrides(old, {}).to_toml()
    assert (
        f"schema = {SCHEMA_VERSION}" in text
        and text != (FIXTURES / "v0.2-run" / "config.toml").read_text()
    )
    assert same_run(old, load_config(_write(tmp_path, text)))
    assert config_diff(new, with_overrides(new, {"training.epochs": 5})) == [
        "training.epochs: 100 -> 5"
    ]
    # An optimizer named explicitly with its default rate is the same run as the default.
    assert same_run(new, with_overrides(new, {"training.optimizer": "sgd", "training.lr": 0.012}))


def test_an_experiment_run_of_netlab_0_2_counts_as_finished(tmp_path):
    from netlab.experiments.files import load_experiment
    from netlab.experiments.plan import is_finished, plan

    exp_file = tmp_path / "e.toml"
    exp_file.write_text(
        'name = "e"\nseeds = [0]\n[overrides]\ntraining = { epochs = 4, lr = 0.05, '
        'schedule = "cosine", dropout = 0.1 }\nmodel = { hidden = [8] }\ndata = { source = '
        '"sample" }\n'
    )
    (spec,) = plan(load_experiment(exp_file), tmp_path / "out")
    spec.run_dir.mkdir(parents=True)
    for name in ("model.npz", "history.csv"):
        shutil.copy(FIXTURES / "v0.2-full" / name, spec.run_dir / name)
    shutil.copy(FIXTURES / "v0.2-run" / "config.toml", spec.run_dir / "config.toml")
    summary = json.loads((FIXTURES / "v0.2-full" / "metrics.json").read_text())
    summary["blas_threads"] = 1
    (spec.run_dir / "metrics.json").write_text(json.dumps(summary))
    assert is_finished(spec, "cpu", 1)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path
