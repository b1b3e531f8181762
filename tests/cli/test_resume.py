"""`netlab train --resume` beyond a killed run (issue 12, items 5, 6 and 9): a finished run is left
untouched, `--epochs N` trains it longer as if it had been started with N, flags a resume cannot
change are named, and an interruption says what is on disk."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from netlab.cli import main

from netlab.config import load_config
from netlab.training.checkpoint import NAME, load_checkpoint

ARGS = ["--data", "sample", "--hidden", "16", "--dropout", "0.1", "--quiet"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files(run_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Every file with its bytes and modification time: "untouched" means both unchanged."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(run_dir.iterdir())}


def history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "history.csv") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def same_run(a: Path, b: Path) -> None:
    assert history(a) == history(b)
    with np.load(a / "model.npz") as x, np.load(b / "model.npz") as y:
        assert all(np.array_equal(x[k], y[k]) for k in x.files if k != "metadata")
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    for key in ("best_epoch", "epochs_run", "test_accuracy", "test_loss", "val_loss"):
        assert ma[key] == mb[key], key


@pytest.fixture(scope="module")
def four(tmp_path_factory) -> Path:
    """The reference: the same run started with 4 epochs."""
    run_dir = tmp_path_factory.mktemp("four") / "r"
    assert main(["train", *ARGS, "--epochs", "4", "--out", str(run_dir)]) == 0
    return run_dir


def test_a_finished_run_is_left_untouched_and_says_how_to_extend(capsys, tmp_path):
    run_dir = tmp_path / "r"
    assert main(["train", *ARGS, "--epochs", "2", "--out", str(run_dir)]) == 0
    capsys.readouterr()
    before = files(run_dir)
    for argv in (["--resume", str(run_dir)], ["--resume", str(run_dir), "--epochs", "2"]):
        code, out, err = run(capsys, "train", *argv)
        assert code == 0 and err == ""
        assert out.startswith(f"{run_dir} is finished (2 of 2 epochs; best epoch ")
        assert "nothing was changed" in out
        assert f"netlab train --resume {run_dir} --epochs N (N > 2)" in " ".join(out.split())
        assert files(run_dir) == before
    code, out, _ = run(capsys, "train", "--resume", str(run_dir), "--json")
    assert code == 0 and json.loads(out) == json.loads((run_dir / "metrics.json").read_text())
    assert files(run_dir) == before


def test_more_epochs_continue_the_run_as_if_started_with_them(capsys, tmp_path, four):
    run_dir = tmp_path / "r"
    assert main(["train", *ARGS, "--epochs", "2", "--out", str(run_dir)]) == 0
    code, out, err = run(capsys, "train", "--resume", str(run_dir), "--epochs", "4")
    assert code == 0, err
    assert f"note: training {run_dir} longer: 2 -> 4 epochs, from epoch 3" in out
    assert "epoch 3/4" in out and "epoch 4/4" in out and "epoch 2/4" not in out
    assert "epochs = 4" in (run_dir / "config.toml").read_text()
    same_run(run_dir, four)


def test_an_interrupted_extension_resumes_to_the_new_length(capsys, tmp_path, monkeypatch, four):
    """Killed (here: Ctrl-C) in the first added epoch: the run is no longer complete (no
    metrics.json), its config.toml holds the new length, and a plain --resume finishes it."""
    import netlab.training.loop as loop

    run_dir = tmp_path / "r"
    assert main(["train", *ARGS, "--epochs", "2", "--out", str(run_dir)]) == 0
    real = loop.train_epoch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train_epoch", interrupted)
    code, out, err = run(capsys, "train", "--resume", str(run_dir), "--epochs", "4")
    assert code == 130
    assert err.strip() == (
        f"error: interrupted in epoch 3; {run_dir} keeps its config.toml and the checkpoint of "
        f"epoch 2: netlab train --resume {run_dir} continues from there"
    )
    assert not (run_dir / "metrics.json").exists()
    assert "epochs = 4" in (run_dir / "config.toml").read_text()
    monkeypatch.setattr(loop, "train_epoch", real)
    code, out, err = run(capsys, "train", "--resume", str(run_dir))
    assert code == 0, err
    same_run(run_dir, four)


def test_an_interruption_names_the_checkpoint_on_disk(capsys, tmp_path, monkeypatch):
    import netlab.training.loop as loop

    real, calls = loop.train_epoch, {"n": 0}

    def third_is_interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", third_is_interrupted)
    run_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", *ARGS, "--epochs", "5", "--out", str(run_dir))
    assert code == 130 and "interrupted in epoch 3;" in err
    assert "the checkpoint of epoch 2: netlab train --resume" in err
    cfg = load_config(run_dir / "config.toml")
    assert load_checkpoint(run_dir / NAME, cfg).epoch == 2  # what the message says


def test_a_run_stopped_before_its_first_checkpoint_restarts_with_more_epochs(capsys, tmp_path):
    """A run killed before its first checkpoint restarts at epoch 1 when resumed, also with
    more epochs (config.toml is rewritten with them)."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text(
        "[model]\nhidden = [16]\n[training]\nepochs = 1\n[data]\nsource = 'sample'\n"
    )
    code, out, err = run(capsys, "train", "--resume", str(run_dir), "--epochs", "2", "--quiet")
    assert code == 0, err
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_run"] == 2
    assert "epochs = 2" in (run_dir / "config.toml").read_text()


def test_finished_runs_that_cannot_grow_say_why(capsys, tmp_path):
    """Extension is refused when the run would not be the one started with more epochs: a cosine
    schedule (each epoch's rate depends on the count) or early stopping that ended it."""
    cosine = tmp_path / "cosine"
    assert (
        main(["train", *ARGS, "--epochs", "2", "--schedule", "cosine", "--out", str(cosine)]) == 0
    )
    code, out, _ = run(capsys, "train", "--resume", str(cosine))
    text = " ".join(out.split())
    assert code == 0 and "it cannot be trained longer (its cosine schedule" in text
    assert "start a new run with --epochs 4" in text
    stopped = tmp_path / "stopped"
    argv = ["--epochs", "6", "--patience", "1", "--lr", "1e-30", "--out", str(stopped)]
    assert main(["train", *ARGS, *argv]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "train", "--resume", str(stopped))
    text = " ".join(out.split())
    assert code == 0 and "is finished (2 of 6 epochs, stopped early;" in text
    assert "it cannot be trained longer (it stopped early after epoch 2" in text
    # Not stopped (its last epoch came first), but a longer run would have stopped right there.
    edge = tmp_path / "edge"
    argv = ["--epochs", "3", "--patience", "2", "--lr", "1e-30", "--out", str(edge)]
    assert main(["train", *ARGS, *argv]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "train", "--resume", str(edge), "--epochs", "6")
    assert code == 2 and "with 6 epochs it would have stopped early after epoch 3" in err
