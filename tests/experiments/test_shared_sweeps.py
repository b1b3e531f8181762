"""Sweeps shared by several processes, and sweeps bounded in size.

Two `netlab experiment` processes on one file (what an accidental second start or the workers of
a cluster job do) train each run exactly once: each run is claimed with its directory's flock.
An experiment larger than max_runs is refused before a single variant is built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import netlab.experiments.files as F
from netlab.errors import ConfigError
from netlab.experiments.execute import run_experiment
from netlab.experiments.files import load_experiment, slug
from netlab.experiments.plan import plan, read_summary
from netlab.experiments.runner import BUSY, FINISHED, TRAINED, claim, run_one

NETLAB = str(Path(sys.executable).with_name("netlab"))
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SHARED = """
name = "shared"
seeds = 2
[overrides]
training = { epochs = 4 }
data = { source = "sample" }
[grid]
model = { hidden = [[48], [32], [24]] }
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_two_processes_on_one_sweep_train_each_run_exactly_once(tmp_path):
    """Both start at once while a third party (this test) holds one run's claim: together they
    train the five free runs exactly once, both report the held one as busy, and a later
    invocation trains only that one."""
    exp_file, out = write(tmp_path, SHARED), tmp_path / "out"
    specs = plan(load_experiment(exp_file), out)
    held = specs[3].run_dir
    cmd = [NETLAB, "experiment", str(exp_file), "--out", str(out), "--json"]
    with claim(held) as holder:
        assert holder is None
        procs = [subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]  # fmt: skip
        answers = [p.communicate(timeout=600) for p in procs]
    results = []
    for proc, (out_text, err) in zip(procs, answers, strict=True):
        assert proc.returncode == 0 and err == "", err
        results.append(json.loads(out_text))
    assert sum(r["ran"] for r in results) == len(specs) - 1  # 5 trainings for 5 runs...
    assert all(read_summary(s.run_dir) for s in specs if s.run_dir != held)  # ...each finished
    for r in results:  # the held run, and maybe one the other process had not finished yet
        assert str(held) in r["busy"] and len(r["busy"]) <= 2, r["busy"]
    assert read_summary(held) is None
    again = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["ran"], json.loads(again.stdout)["busy"]) == (1, [])


def test_a_busy_run_is_named_with_its_holder(tmp_path):
    exp_file, out = write(tmp_path, SHARED.replace("seeds = 2", "seeds = 1")), tmp_path / "out"
    held = plan(load_experiment(exp_file), out)[0].run_dir
    with claim(held):
        done = subprocess.run([NETLAB, "experiment", str(exp_file), "--out", str(out), "-q"],
                              env=ENV, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"note: 1 run was being trained by another netlab process (pid "
                           f"{os.getpid()} on ")  # fmt: skip
    assert line.endswith("and is not in this table; run the same command again once it has "
                         "finished")  # fmt: skip


def test_run_one_claims_before_it_trains(tmp_path):
    exp = load_experiment(write(tmp_path, SHARED.replace("seeds = 2", "seeds = 1")))
    spec = plan(exp, tmp_path / "out")[0]
    with claim(spec.run_dir):
        busy = run_one(spec, "cpu", 1)
    assert busy.status == BUSY and busy.holder.startswith(f"pid {os.getpid()} on ")
    assert run_one(spec, "cpu", 1).status == TRAINED
    assert (spec.run_dir / ".lock").read_text() == ""  # no stale holder once released
    finished = run_one(spec, "cpu", 1)  # e.g. another process finished it after this one planned it
    assert finished.status == FINISHED and finished.summary == read_summary(spec.run_dir)


# ---------------------------------------------------------------------------- bounded sweeps


def grid(n_keys: int, per_key: int, extra: str = "") -> str:
    keys = ["l2", "dropout", "momentum", "label_smoothing"][:n_keys]
    values = ", ".join(f"{i / (10 * per_key)}" for i in range(per_key))
    return extra + "[grid]\ntraining = { " + ", ".join(f"{k} = [{values}]" for k in keys) + " }\n"


def test_a_sweep_over_the_limit_is_refused_before_building_it(tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(F, "Variant", lambda *a: built.append(a))
    path = write(tmp_path, grid(3, 100, "seeds = 3\n"))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert str(info.value) == (
        f"{path}: 1000000 variants x 3 seeds = 3000000 runs, more than the limit of 10000; make "
        "the grid smaller or split the sweep, or raise the limit with max_runs = 3000000 in the "
        "file (at most 1000000)"
    )
    assert built == []  # refused from the counts alone
    path = write(tmp_path, grid(2, 101), "b.toml")  # 10,201 variants
    with pytest.raises(ConfigError, match="10201 runs, more than the limit of 10000;.*max_runs"):
        load_experiment(path)


def test_max_runs_raises_or_lowers_the_limit(tmp_path):
    assert len(load_experiment(write(tmp_path, grid(2, 2, "max_runs = 4\n"))).variants) == 4
    with pytest.raises(ConfigError, match="4 runs, more than the limit of 3"):
        load_experiment(write(tmp_path, grid(2, 2, "max_runs = 3\n")))
    for bad in ("0", "1000001", "true", "1.5", "'10'"):
        with pytest.raises(ConfigError, match=r"max_runs must be an integer in \[1, 1000000\]"):
            load_experiment(write(tmp_path, f"max_runs = {bad}\n"))


def test_long_names_get_stable_hashed_directories(tmp_path):
    long_a, long_b = "a" * 150, "a" * 149 + "b"
    assert slug(long_a) == slug(long_a) != slug(long_b)
    assert len(slug(long_a).encode()) <= 100 and slug(long_a).startswith("a" * 80)
    assert len(slug("é" * 150).encode()) <= 100  # bytes, not characters
    assert slug("short name") == "short-name"
    text = f"[[variants]]\nname = '{'v' * 200}'\n[[variants]]\nname = '{'v' * 199}w'\n"
    exp = load_experiment(write(tmp_path, text))
    dirs = [s.run_dir.parent.name for s in plan(exp, tmp_path / "o")]
    assert len(set(dirs)) == 2 and all(len(d) <= 100 for d in dirs)
    with pytest.raises(ConfigError, match=r"variants\[0\].name has 201 characters; the limit"):
        load_experiment(write(tmp_path, f"[[variants]]\nname = '{'v' * 201}'\n"))


def test_a_grid_of_long_labels_runs_in_hashed_directories(tmp_path):
    text = (
        "[overrides]\ntraining = { epochs = 1 }\ndata = { source = 'sample' }\n"
        "[grid]\nmodel = { hidden = [[" + ", ".join(["3"] * 60) + "]] }\n"
    )
    exp = load_experiment(write(tmp_path, text))
    (variant,) = exp.variants
    assert len(variant.name) > 100
    result = run_experiment(exp, tmp_path / "out")
    (row,) = result["rows"]
    assert row["variant"] == variant.name and result["ran"] == 1
    (run_dir,) = [p.parent for p in (tmp_path / "out").glob("*/seed0/metrics.json")]
    assert run_dir.parent.name == slug(variant.name) and len(run_dir.parent.name) <= 100
