"""Sweeps trained as stacks (execute.pack_runs, stack_runs.run_pack): the same runs, claims, files
and table as with every run alone, through the real `netlab experiment` command.

Tolerance: float64 runs, every number of results.csv within 1e-9 relative of the runs trained
alone (docs/stacks.md).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netlab.config import Config, with_overrides
from netlab.errors import ConfigError
from netlab.experiments.execute import pack_runs
from netlab.experiments.files import load_experiment
from netlab.experiments.plan import RunSpec, plan, read_summary
from netlab.experiments.runner import BUSY, FAILED, TRAINED, claim
from netlab.experiments.stack_runs import resume_states, run_pack

NETLAB = str(Path(sys.executable).with_name("netlab"))
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SWEEP = """
name = "l2-sweep"
seeds = 2
[overrides]
training = { epochs = 3, dtype = "float64" }
data = { source = "sample" }
model = { hidden = [16] }
[grid]
training = { l2 = [0.0, 1e-4, 1e-3] }
[[variants]]
name = "wide"
model = { hidden = [24] }
[[variants]]
name = "diverges"
training = { lr = 1e6 }
model = { init = "normal" }
"""


def spec(i: int, **overrides) -> RunSpec:
    config = with_overrides(Config(), {"data.source": "sample", **overrides})
    return RunSpec(f"v{i}", config.training.seed, config, Path(f"/tmp/none/{i}"))


def test_packs_group_one_seed_of_one_stack_key():
    runs = [spec(i, **{"training.l2": 1e-4 * (i % 4), "training.seed": i // 4}) for i in range(8)]
    runs += [spec(8, **{"model.hidden": [10]}), spec(9, **{"training.augment": ["flip"]})]
    packs = pack_runs(runs, 16)
    assert sorted(len(p) for p in packs) == [1, 1, 4, 4]
    assert all(len({s.seed for s in p}) == 1 for p in packs)
    assert sorted(len(p) for p in pack_runs(runs, 3)) == [1, 1, 2, 2, 2, 2]
    assert all(len(p) == 1 for p in pack_runs(runs, 1))
    one_group = runs[:4]
    assert sorted(len(p) for p in pack_runs(one_group, 16, workers=2)) == [2, 2]
    assert sorted(s.variant for p in pack_runs(runs, 3) for s in p) == sorted(
        s.variant for s in runs
    )
    with pytest.raises(ConfigError, match="--stack-size"):
        pack_runs(runs, 0)


@pytest.mark.parametrize("compiled_loops", [True, False], ids=["numba", "numpy-only"])
def test_batch_1_packs_on_the_cpu_only_with_the_fused_step(monkeypatch, compiled_loops):
    """At batch 1 NumPy's update passes measured no faster stacked; SGD's fused step is faster,
    for one seed and for several (docs/stacks.md), so there its runs pack across seeds too."""
    from netlab.nn import compiled

    monkeypatch.setattr(compiled, "_NUMBA", object() if compiled_loops else None)
    batch1 = [spec(20 + i, **{"training.batch_size": 1, "training.l2": 1e-4 * (i % 2),
                              "training.seed": i // 2}) for i in range(6)]  # fmt: skip
    packs = pack_runs(batch1, 16)
    assert [len(p) for p in packs] == ([6] if compiled_loops else [1] * 6)
    assert [len(p) for p in pack_runs(batch1, 4)] == ([3, 3] if compiled_loops else [1] * 6)
    assert sorted(len(p) for p in pack_runs(batch1, 16, device="cuda")) == [2, 2, 2]  # a seed each
    adam = [spec(40 + i, **{"training.batch_size": 1, "training.optimizer": "adam",
                            "training.lr": 1e-3}) for i in range(2)]  # fmt: skip
    assert [len(p) for p in pack_runs(adam, 16)] == [1, 1]  # no fused step: NumPy's passes
    batch8 = [spec(50 + i, **{"training.batch_size": 8, "training.l2": 1e-4 * i}) for i in range(2)]
    assert [len(p) for p in pack_runs(batch8, 16)] == [1, 1]
    big = [spec(30 + i, **{"training.l2": 1e-4 * (i % 2), "training.seed": i // 2})
           for i in range(4)]  # fmt: skip
    assert sorted(len(p) for p in pack_runs(big, 16)) == [2, 2]  # batch 128: one seed a stack


def _rows(path: Path) -> dict[str, dict[str, str]]:
    """results.csv by variant, without its wall-time columns (the only ones that may differ)."""
    with open(path) as f:
        return {r["variant"]: {k: v for k, v in r.items() if not k.startswith("train_seconds")}
                for r in csv.DictReader(f)}  # fmt: skip


def test_a_stacked_sweep_writes_what_runs_alone_write(tmp_path):
    exp = tmp_path / "sweep.toml"
    exp.write_text(SWEEP)
    outs = {}
    for name, extra in (("stacked", []), ("alone", ["--stack-size", "1"])):
        out = tmp_path / name
        done = subprocess.run([NETLAB, "experiment", str(exp), "--out", str(out), *extra],
                              env=ENV, capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode != 0  # the diverging variant fails, the others are written
        assert done.stderr.count("\n") == 1 and "run 'diverges' seed 0" in done.stderr
        assert "Traceback" not in done.stderr
        outs[name] = (out, done.stdout)
    stacked_out, text = outs["stacked"]
    assert "stack 1 (4 runs)" in text and "stack 2 (4 runs)" in text  # 3 l2 + diverges, per seed
    assert "train as" not in outs["alone"][1]
    specs = plan(load_experiment(exp), stacked_out)
    assert len(specs) == 10
    for s in specs:
        if s.variant == "diverges":
            assert read_summary(s.run_dir) is None
            continue
        a = read_summary(s.run_dir)
        b = read_summary(tmp_path / "alone" / s.run_dir.relative_to(stacked_out))
        assert a.get("stack_size") == (None if s.variant == "wide" else 4)
        assert b.get("stack_size") is None
        for key in ("val_accuracy", "test_accuracy", "test_loss", "val_loss"):
            assert a[key] == pytest.approx(b[key], rel=1e-9), (s.variant, key)
        assert a["best_epoch"] == b["best_epoch"]
    rows_s, rows_a = _rows(stacked_out / "results.csv"), _rows(tmp_path / "alone/results.csv")
    assert rows_s.keys() == rows_a.keys()
    stacked_run = next(s.run_dir for s in specs if s.variant == "l2=0.001")
    shown = subprocess.run([NETLAB, "eval", str(stacked_run / "model.npz"), "--json"], env=ENV,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert shown.returncode == 0, shown.stderr  # a stacked run's model file is a model file
    summary = read_summary(stacked_run)
    assert json.loads(shown.stdout)["test_accuracy"] == pytest.approx(summary["test_accuracy"])


def test_a_pack_claims_each_run_and_skips_the_busy_one(tmp_path):
    exp = tmp_path / "sweep.toml"
    exp.write_text(SWEEP.replace("seeds = 2", "seeds = 1"))
    specs = [s for s in plan(load_experiment(exp), tmp_path / "out") if s.variant != "wide"]
    specs.sort(key=lambda s: s.variant == "diverges")  # the three l2 runs, then the diverging one
    with claim(specs[1].run_dir) as holder:
        assert holder is None
        outcomes = run_pack(specs, "cpu", 1)
    assert [o.status for o in outcomes] == [TRAINED, BUSY, TRAINED, FAILED]
    assert outcomes[3].error.startswith("run 'diverges' seed 0: training ")  # diverged, exploded
    assert json.loads((specs[0].run_dir / "metrics.json").read_text())["stack_size"] == 3
    assert read_summary(specs[1].run_dir) is None


def test_dask_ships_stacks_as_tasks_and_gives_the_local_table(tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason='needs the dask extra (pip install -e ".[dask]")'
    )
    from netlab.experiments.execute import run_experiment

    exp_file = tmp_path / "sweep.toml"
    exp_file.write_text(SWEEP.replace('[[variants]]\nname = "diverges"', '[[variants]]\nname = "x"')
                        .replace("lr = 1e6", "lr = 0.05"))  # fmt: skip
    exp = load_experiment(exp_file)
    packs = []
    run_experiment(exp, tmp_path / "local", on_packs=packs.extend)
    assert sorted(len(p) for p in packs) == [1, 1, 4, 4]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = run_experiment(exp, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert result["ran"] == 10
    assert _rows(tmp_path / "dask/results.csv") == _rows(tmp_path / "local/results.csv")


RESUMABLE = """
name = "resumable"
seeds = 1
[overrides]
training = { epochs = 4, dtype = "float64", dropout = 0.1 }
data = { source = "sample" }
model = { hidden = [16] }
[grid]
training = { l2 = [0.0, 1e-4, 1e-3] }
"""


@pytest.mark.parametrize("kill_at_save", [2, 5, 9])
def test_a_stack_killed_mid_save_resumes_bit_identical(tmp_path, kill_at_save):
    """The worker SIGKILLs itself during its N-th checkpoint save (3 per epoch, one per run):
    the re-run continues from the latest epoch all three runs have, and every file of every run
    equals the uninterrupted sweep's, the timings aside."""
    import numpy as np

    exp = tmp_path / "sweep.toml"
    exp.write_text(RESUMABLE)
    cmd = [NETLAB, "experiment", str(exp), "--json", "--out"]
    whole = subprocess.run([*cmd, str(tmp_path / "whole")], env=ENV, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    fault = {**ENV, "NETLAB_FAULT_KILL_AT_SAVE": str(kill_at_save)}
    killed = subprocess.run([*cmd, str(out)], capture_output=True, text=True, timeout=600,
                            env=fault)  # fmt: skip
    assert killed.returncode != 0 and killed.stderr.count("\n") == 1, killed.stderr
    assert "Traceback" not in killed.stderr
    specs = plan(load_experiment(exp), out)
    assert all(read_summary(s.run_dir) is None for s in specs)
    states = resume_states(specs)  # what the re-run continues from: one epoch for all three
    if kill_at_save <= 3:  # during the first epoch's saves: the stack starts over
        assert states == [None] * 3
    else:  # 5: the second run's epoch-2 save; 9: the third run's epoch-3 save
        assert {st.epoch for st in states} == {(kill_at_save - 1) // 3}
    timed = [[r["seconds"] for r in st.history] if st else [] for st in states]  # their clocks
    resumed = subprocess.run([*cmd, str(out)], env=ENV, capture_output=True, text=True,
                             timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["ran"] == 3
    for s in plan(load_experiment(exp), out):
        twin = tmp_path / "whole" / s.run_dir.relative_to(out)
        a, b = read_summary(s.run_dir), read_summary(twin)
        for key in ("val_accuracy", "val_loss", "test_accuracy", "test_loss", "best_epoch"):
            assert a[key] == b[key], key
        with np.load(s.run_dir / "model.npz") as ma, np.load(twin / "model.npz") as mb:
            for name in ("W1", "W2", "b1", "b2"):
                np.testing.assert_array_equal(ma[name], mb[name])
        assert not list(s.run_dir.glob("checkpoint*.npz"))
    for s, seconds in zip(specs, timed, strict=True):  # resumed, not trained again from epoch 1
        history = [json.loads(line) for line in (s.run_dir / "history.jsonl").open()]
        assert [r["seconds"] for r in history[: len(seconds)]] == seconds
