"""Experiments: file loading, planning, resume after a real kill, and executor equivalence."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netlab.errors import ConfigError, NetlabError, OutputExistsError
from netlab.experiments.execute import run_experiment
from netlab.experiments.files import load_experiment
from netlab.experiments.plan import plan

TINY = """
name = "tiny"
seeds = 2
[overrides]
training = { epochs = 2 }
data = { source = "sample" }
[[variants]]
name = "relu"
model = { activation = "relu", hidden = [16] }
[grid]
model = { hidden = [[20], [10, 10]] }
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def metric_rows(path: Path) -> list[dict[str, str]]:
    """The results table without its wall-time columns (the only ones that may differ)."""
    with open(path) as f:
        return [
            {k: v for k, v in r.items() if not k.startswith("train_seconds")}
            for r in csv.DictReader(f)
        ]


def test_variants_grid_and_seeds(tmp_path):
    exp = load_experiment(write(tmp_path, TINY))
    assert [v.name for v in exp.variants] == ["relu", "hidden=20", "hidden=10x10"]
    assert exp.seeds == (0, 1)
    specs = plan(exp, tmp_path / "out")
    assert len(specs) == 6 and specs[0].run_dir == tmp_path / "out" / "relu" / "seed0"
    assert specs[2].config.model.hidden == (20,) and specs[2].config.training.epochs == 2
    assert specs[1].config.training.seed == 1 and specs[0].config.model.activation == "relu"


def test_base_config_is_relative_to_the_file(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "b.toml").write_text('[model]\ninit = "normal"\n')
    exp = load_experiment(write(tmp_path, 'base = "cfg/b.toml"\nseeds = [3]\n'))
    (spec,) = plan(exp, tmp_path / "o")
    assert spec.config.model.init == "normal" and spec.config.training.seed == 3


@pytest.mark.parametrize(
    "text,message",
    [
        ("nmae = 'x'", "unknown key 'nmae'"),
        ("seeds = 0", "seeds must be a count in"),
        ("seeds = [1, 1]", "distinct"),
        ("seeds = -2", "seeds must be a count in"),
        ("seeds = [0, -1]", "list of distinct integers >= 0"),
        ("variants = []", "variants is empty"),
        ("[grid]", r"\[grid\] is empty"),
        ("[grid]\nmodel = { hidden_units = [[10]] }", "unknown key model.hidden_units"),
        ("[grid]\nmodel = { hidden = [] }", "grid model.hidden must be a non-empty list"),
        ("[grid]\noptimizer = { lr = [1] }", "unknown section 'optimizer'"),
        (
            "[[variants]]\nname = 'a'\ntraining = { lr = -1 }",
            "variant 'a'.*training.lr must be a float > 0",
        ),
        (
            "[[variants]]\nname = 'a'\ntraining = { learning_rate = 1 }",
            "unknown key training.learning_rate",
        ),
        ("[[variants]]\nname = 'a'\n[[variants]]\nname = 'a'", "share the name"),
        ("[[variants]]\ntraining = { lr = 1 }", r"variants\[0\] needs a non-empty name"),
        ("base = 'missing.toml'", "not found"),
    ],
)
def test_bad_experiment_files(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_experiment(write(tmp_path, text))


def test_resume_skips_finished_runs_and_refuses_foreign_ones(tmp_path):
    exp = load_experiment(write(tmp_path, TINY))
    first = run_experiment(exp, tmp_path / "a")
    assert (first["ran"], first["skipped"]) == (6, 0)
    incomplete = tmp_path / "a" / "hidden-20" / "seed1" / "metrics.json"
    incomplete.unlink()  # as if killed before its last file
    kept = (tmp_path / "a" / "relu" / "seed0" / "metrics.json").stat().st_mtime_ns
    again = run_experiment(exp, tmp_path / "a")
    assert (again["ran"], again["skipped"]) == (1, 5)
    assert (tmp_path / "a" / "relu" / "seed0" / "metrics.json").stat().st_mtime_ns == kept
    changed = load_experiment(write(tmp_path, TINY.replace("epochs = 2", "epochs = 3"), "b.toml"))
    with pytest.raises(OutputExistsError, match="holds a finished run of a different config"):
        run_experiment(changed, tmp_path / "a")


def test_sweep_killed_midway_resumes_to_the_same_table(tmp_path):
    exp_file = write(tmp_path, TINY.replace("epochs = 2", "epochs = 4"))
    exe = str(Path(sys.executable).parent / "netlab")
    cmd = [exe, "experiment", str(exp_file), "--quiet"]
    full = subprocess.run([*cmd, "--out", str(tmp_path / "full")], capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    proc = subprocess.Popen(
        [*cmd, "--out", str(tmp_path / "cut")],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not list((tmp_path / "cut").glob("*/seed*/metrics.json")) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker process, mid-sweep
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in (tmp_path / "cut").glob("*/seed*/metrics.json")}
    assert 1 <= len(finished) < 6
    resumed = subprocess.run(
        [*cmd, "--out", str(tmp_path / "cut"), "--json"], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # not redone
    assert metric_rows(tmp_path / "cut" / "results.csv") == metric_rows(
        tmp_path / "full" / "results.csv"
    )


def test_worker_counts_give_identical_tables(tmp_path):
    exp = load_experiment(write(tmp_path, TINY))
    run_experiment(exp, tmp_path / "one", workers=1)
    run_experiment(exp, tmp_path / "two", workers=2)
    assert metric_rows(tmp_path / "one" / "results.csv") == metric_rows(
        tmp_path / "two" / "results.csv"
    )


def test_dask_local_cluster_gives_the_local_table(tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason='needs the dask extra (pip install -e ".[dask]")'
    )
    exp = load_experiment(write(tmp_path, TINY))
    run_experiment(exp, tmp_path / "local", workers=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = run_experiment(exp, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert result["ran"] == 6
    assert metric_rows(tmp_path / "dask" / "results.csv") == metric_rows(
        tmp_path / "local" / "results.csv"
    )


def test_the_study_experiments_load_in_both_protocols():
    root = Path(__file__).resolve().parents[2] / "configs" / "experiments"
    names = sorted(p.stem for p in (root / "paper").glob("*.toml"))
    assert names == sorted(p.stem for p in (root / "corrected").glob("*.toml"))
    assert {"regularization", "activations", "topology", "depth", "tuning"} <= set(names)
    for protocol, init in (("paper", "normal"), ("corrected", "xavier")):
        for name in names:
            exp = load_experiment(root / protocol / f"{name}.toml")
            seeds = (0, 1, 2) if name == "tuning" else (0, 1, 2, 3, 4)  # the study: 5 seeds
            assert exp.seeds == seeds and exp.name == f"{protocol}-{name}"
            for spec in plan(exp, Path("unused")):
                relu = spec.config.model.activation in ("relu", "leaky_relu")
                expected = "he" if relu and protocol == "corrected" else init
                assert spec.config.model.init == expected, (protocol, name, spec.variant)
    depth = load_experiment(root / "paper" / "depth.toml")
    assert [v.overrides["model.hidden"] for v in depth.variants] == [[53], [50, 50], [47, 47, 47]]


def test_a_failing_run_does_not_block_the_others(tmp_path):
    text = TINY.replace('name = "relu"', 'name = "diverges"').replace(
        'model = { activation = "relu", hidden = [16] }',
        'model = { activation = "relu", init = "normal" }\ntraining = { lr = 1e6 }',
    )
    exp = load_experiment(write(tmp_path, text))
    with pytest.raises(NetlabError, match=r"2 of 6 runs failed \(run 'diverges' seed \d: training"):
        run_experiment(exp, tmp_path / "out", workers=2)
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| diverges | 0 |" in table and "| hidden=20 | 2 |" in table


def test_settings_and_names_that_must_not_be_mixed(tmp_path):
    exp = load_experiment(write(tmp_path, TINY))
    run_experiment(exp, tmp_path / "out")
    with pytest.raises(OutputExistsError, match="different config or settings"):
        run_experiment(exp, tmp_path / "out", blas_threads=2)
    dots = load_experiment(write(tmp_path, "[[variants]]\nname = '..'\n", "dots.toml"))
    assert plan(dots, tmp_path / "o")[0].run_dir == (tmp_path / "o" / "variant" / "seed0")
    with pytest.raises(ConfigError, match="reserved"):
        load_experiment(write(tmp_path, "[[variants]]\nname = 'results.md'\n", "r.toml"))
    big = load_experiment(write(tmp_path, "[grid]\ntraining = { lr = [1e9, 1e-9] }\n", "g.toml"))
    assert [s.run_dir.parent.name for s in plan(big, tmp_path)] == ["lr-1e+09", "lr-1e-09"]


def test_dask_errors_are_one_line(tmp_path):
    distributed = pytest.importorskip("distributed", reason="needs the dask extra")
    exp = load_experiment(write(tmp_path, TINY))
    with pytest.raises(NetlabError, match="cannot reach the Dask scheduler"):
        run_experiment(exp, tmp_path / "a", scheduler="foo")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with pytest.raises(NetlabError, match="--resources GPU=1"):
            run_experiment(exp, tmp_path / "b", scheduler=cluster.scheduler_address, device="cuda")
