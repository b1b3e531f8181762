"""Faults done for real: SIGKILLed trainings resumed bit for bit, kills in the middle of a
checkpoint save, locks, divergence, a full disk. Kill points are printed (pytest -s)."""

from __future__ import annotations

import csv
import errno
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netlab.config import Config, load_config, with_overrides
from netlab.errors import ConfigError, ModelFileError, OutputExistsError, TrainingDiverged
from netlab.files.atomic import atomic_write
from netlab.files.runs import run_lock
from netlab.training.checkpoint import NAME, load_checkpoint
from netlab.training.run import train

NETLAB = str(Path(sys.executable).with_name("netlab"))
ARGS = ["--data", "sample", "--epochs", "8", "--hidden", "256,128", "--batch-size", "8",
        "--dropout", "0.1", "--quiet"]  # fmt: skip
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def cli(*argv, env=None, **kw):
    return subprocess.run([NETLAB, *argv], env=env or ENV, capture_output=True, text=True, **kw)


def history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def arrays(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "model.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def same_run(a: Path, b: Path) -> None:
    assert history(a) == history(b)
    x, y = arrays(a), arrays(b)
    assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    for key in ("best_epoch", "test_accuracy", "test_loss", "val_accuracy", "val_loss"):
        assert ma[key] == mb[key]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ref") / "run"
    done = cli("train", *ARGS, "--out", str(run))
    assert done.returncode == 0, done.stderr
    return run


def test_sigkill_at_random_points_then_resume_is_bit_identical(reference, tmp_path):
    """Kill `netlab train` with SIGKILL at random moments (during start-up, and at a random moment
    after a checkpoint was written, i.e. mid-epoch or mid-save), resume with --resume (killing the
    resumed process too), until it finishes: the model, history and metrics equal the
    uninterrupted run's. Kill points follow the run's progress, not the clock, so they land
    whatever the machine's speed."""
    rng = random.Random(20261128)
    kills = []
    for trial in range(3):
        run = tmp_path / f"run{trial}"
        proc = subprocess.Popen([NETLAB, "train", *ARGS, "--out", str(run)], env=ENV)
        for attempt in range(12):
            if attempt < 3:
                point = _kill_point(proc, run, rng, startup=attempt == 0)
                if point is not None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills.append((trial, attempt, point, _checkpoint_epoch(run)))
            if proc.poll() is None:
                proc.wait(timeout=300)
            if proc.returncode == 0:
                break
            if (run / "config.toml").exists():
                proc = subprocess.Popen([NETLAB, "train", "--resume", str(run), "-q"], env=ENV)
            else:  # killed before it wrote anything: the user runs the same command again
                proc = subprocess.Popen([NETLAB, "train", *ARGS, "--out", str(run)], env=ENV)
        else:
            pytest.fail("the run never finished")
        same_run(run, reference)
    print(f"\nkill points (trial, attempt, where, checkpointed epoch): {kills}")
    assert len(kills) >= 6


def _kill_point(proc, run: Path, rng: random.Random, startup: bool) -> str | None:
    """Wait for the moment to kill: a random delay after start (startup), else a random delay
    after the next checkpoint appears. None when the process ended first."""
    import time

    if startup:
        time.sleep(rng.uniform(0.0, 0.3))
        return "start-up" if proc.poll() is None else None
    path = run / NAME
    seen = path.stat().st_mtime_ns if path.exists() else None
    while proc.poll() is None:
        now = path.stat().st_mtime_ns if path.exists() else None
        if now is not None and now != seen:
            time.sleep(rng.uniform(0.0, 0.08))
            return "after a checkpoint" if proc.poll() is None else None
        time.sleep(0.005)
    return None


def _checkpoint_epoch(run: Path) -> int | None:
    try:
        return load_checkpoint(run / NAME, load_config(run / "config.toml")).epoch
    except (ModelFileError, ConfigError, OSError):
        return None


@pytest.mark.parametrize("save", [1, 4, 8])
def test_kill_in_the_middle_of_a_checkpoint_save_keeps_the_previous_one(reference, tmp_path, save):
    """NETLAB_FAULT_KILL_AT_SAVE=N: the process SIGKILLs itself during its N-th checkpoint save,
    after writing the temporary file and before the rename."""
    run = tmp_path / "run"
    env = {**ENV, "NETLAB_FAULT_KILL_AT_SAVE": str(save)}
    died = cli("train", *ARGS, "--out", str(run), env=env)
    assert died.returncode == -signal.SIGKILL
    assert list(run.glob(".checkpoint.npz.*.tmp")), "the kill did not land mid-save"
    assert _checkpoint_epoch(run) == (save - 1 if save > 1 else None)
    assert not (run / "model.npz").exists()
    resumed = cli("train", "--resume", str(run), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    same_run(run, reference)


def test_resume_that_cannot_continue_says_why(reference, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    cfg = run / "config.toml"  # edited by hand (more epochs would extend the run: test_resume.py)
    cfg.write_text(cfg.read_text().replace("momentum = 0.9", "momentum = 0.8"))
    done = cli("train", "--resume", str(run))
    assert done.returncode == 2 and "different config" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    cfg.write_text(cfg.read_text().replace("momentum = 0.8", "momentum = 0.9"))
    (run / NAME).write_bytes((run / "model.npz").read_bytes())  # a model file, not a checkpoint
    done = cli("train", "--resume", str(run))
    assert done.returncode == 1 and "not a usable netlab checkpoint" in done.stderr
    done = cli("train", "--resume", str(tmp_path))
    assert done.returncode == 2 and "is not a netlab run directory" in done.stderr
    done = cli("train", "--resume", str(run), "--config", str(cfg))
    assert done.returncode == 2 and "drop --config" in done.stderr


def test_in_process_resume_from_every_epoch_is_identical(tmp_path, monkeypatch):
    """Resume from each epoch's checkpoint of a run (schedule, dropout, momentum all in play):
    every resumed run ends bit-identical to the uninterrupted one."""
    import shutil

    import netlab.training.checkpoint as C

    cfg = with_overrides(
        Config(),
        {"data.source": "sample", "training.epochs": 4, "model.hidden": (32,),
         "training.schedule": "cosine", "training.dropout": 0.2, "training.nesterov": True},
    )  # fmt: skip
    real = C.save_checkpoint

    def keep_each(path, state):
        real(path, state)
        shutil.copyfile(path, tmp_path / f"epoch{state.epoch}.npz")

    monkeypatch.setattr(C, "save_checkpoint", keep_each)
    (tmp_path / "full").mkdir()
    full = train(cfg, run_dir=tmp_path / "full")
    monkeypatch.setattr(C, "save_checkpoint", real)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    for epoch in range(1, 4):
        run = tmp_path / f"resume{epoch}"
        run.mkdir()
        shutil.copyfile(tmp_path / f"epoch{epoch}.npz", run / NAME)
        resumed = train(cfg, run_dir=run, resume=True)
        np.testing.assert_array_equal(resumed.model.flat, full.model.flat)
        assert strip(resumed.fit.history) == strip(full.fit.history)
        assert resumed.test.accuracy == full.test.accuracy
        # its training time counts the epochs before the resume (from their history records)
        earlier = sum(r["seconds"] for r in resumed.fit.history[:epoch])
        assert resumed.fit.seconds >= sum(r["seconds"] for r in resumed.fit.history) > earlier


def test_a_second_training_in_the_same_directory_is_refused(tmp_path):
    run = tmp_path / "run"
    with run_lock(run):
        done = cli("train", "--data", "sample", "--epochs", "1", "--out", str(run), "--force")
    assert done.returncode == 1 and "in use by another netlab process" in done.stderr
    assert sorted(p.name for p in run.iterdir()) == [".lock"]
    with run_lock(run):  # free again once the holder is gone
        pass
    with run_lock(run), pytest.raises(OutputExistsError, match="in use"), run_lock(run):
        pass


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import netlab.training.loop as T

    real = T.train_epoch
    calls = {"n": 0}

    def poisoned(model, optimizer, *args, **kwargs):
        real(model, optimizer, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:  # the third epoch ends with a NaN weight
            model.flat[5] = np.nan

    monkeypatch.setattr(T, "train_epoch", poisoned)
    cfg = with_overrides(Config(), {"data.source": "sample", "training.epochs": 5})
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(TrainingDiverged) as info:
        train(cfg, run_dir=run)
    assert load_checkpoint(run / NAME, cfg).epoch == 2
    assert "the checkpoint of epoch 2, the last good one, is kept" in str(info.value)


def test_divergence_through_the_cli_is_one_line_exit_3_without_warnings(tmp_path):
    done = cli("train", "--data", "sample", "--lr", "1e6", "--init", "normal", "--activation",
               "relu", "--epochs", "2", "--out", str(tmp_path / "r"))  # fmt: skip
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()  # no RuntimeWarning from NumPy
    assert line.startswith("error: training diverged at epoch 1, batch ")
    assert "lower the learning rate" in line


def test_full_disk_during_a_save_leaves_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "model.npz"
    target.write_bytes(b"previous")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputExistsError, match="No space left on device.*previous file"):
        atomic_write(target, lambda f: f.write(b"new" * 1000), force=True)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left behind


def test_same_seed_same_history_and_weights_on_cpu(tmp_path):
    cfg = with_overrides(Config(), {"data.source": "sample", "training.epochs": 2})
    a, b = train(cfg), train(cfg)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(a.fit.history) == strip(b.fit.history)
    np.testing.assert_array_equal(a.model.flat, b.model.flat)


def test_sigterm_during_training_leaves_a_resumable_run(reference, tmp_path):
    """SIGTERM (schedulers, docker stop) after a checkpoint: exit 143, one line saying what is on
    disk and how to resume; the resumed run equals the uninterrupted one bit for bit."""
    run = tmp_path / "run"
    proc = subprocess.Popen([NETLAB, "train", *ARGS, "--out", str(run)], env=ENV,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert _kill_point(proc, run, random.Random(143), startup=False) is not None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: terminated (SIGTERM) in epoch ") and f"--resume {run}" in line
    assert _checkpoint_epoch(run) is not None and not list(run.glob(".*.tmp"))
    resumed = cli("train", "--resume", str(run), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    same_run(run, reference)


def test_sigterm_in_the_first_epoch_says_the_run_starts_again(tmp_path, monkeypatch, capsys):
    """SIGTERM that lands in the first epoch (sent by the process to itself, so it lands there):
    143, one line, and no claim of a checkpoint that does not exist; --resume starts it over."""
    from netlab.cli import main

    import netlab.training.loop as T

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(T, "train_epoch", terminated)
    run = tmp_path / "run"
    assert main(["train", "--data", "sample", "--epochs", "2", "--out", str(run)]) == 143
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"error: terminated (SIGTERM) in epoch 1; {run} holds its config.toml but no checkpoint "
        f"yet (one is written when an epoch ends): netlab train --resume {run} starts it again "
        "from epoch 1"
    )
    assert sorted(p.name for p in run.iterdir()) == [".lock", "config.toml"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored after the command
