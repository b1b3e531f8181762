"""A finite explosion is a divergence (issue 12, items 8 and 9): its own message, exit code 3,
and the message says what the run directory holds; the study's legitimately large early losses
(N(0, 1)-init ReLU) never trip it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from netlab.cli import main

from netlab.config import load_config
from netlab.training.checkpoint import NAME, load_checkpoint
from netlab.training.divergence import EXPLODED_LOSS

ROOT = Path(__file__).resolve().parents[2]
PAPER = str(ROOT / "configs" / "paper" / "baseline.toml")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_finite_explosion_exits_3_with_its_own_message(capsys, tmp_path):
    run_dir = tmp_path / "r"
    code, out, err = run(capsys, "train", "--data", "sample", "--lr", "1e30", "--epochs", "3",
                         "--out", str(run_dir))  # fmt: skip
    assert code == 3
    (line,) = err.strip().splitlines()
    assert line.startswith("error: training exploded at epoch 1: the training loss is ")
    assert f"above the divergence bound of {EXPLODED_LOSS:g}" in line
    assert "lower the learning rate (now 1e+30)" in line
    # What is on disk, as it is: no epoch finished, so no checkpoint (item 9).
    assert line.endswith("no epoch finished, so there is no checkpoint to resume from")
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "config.toml"]
    assert "best epoch" not in out


def test_an_explosion_after_good_epochs_keeps_their_checkpoint(capsys, tmp_path, monkeypatch):
    import netlab.training.loop as loop

    real, calls = loop.train_epoch, {"n": 0}

    def blown_up(model, *args, **kwargs):
        result = real(model, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:  # the third epoch ends with finite but enormous weights
            model.flat *= np.float32(1e8)
        return result

    monkeypatch.setattr(loop, "train_epoch", blown_up)
    run_dir = tmp_path / "r"
    code, _, err = run(capsys, "train", "--data", "sample", "--epochs", "5", "--out", str(run_dir))
    assert code == 3 and err.startswith("error: training exploded at epoch 3: the ")
    assert "the checkpoint of epoch 2, the last good one, is kept" in err
    cfg = load_config(run_dir / "config.toml")
    assert load_checkpoint(run_dir / NAME, cfg).epoch == 2


@pytest.mark.parametrize(
    "flags",
    [
        ["--activation", "relu", "--epochs", "5"],  # the study's lr 1.2e-2, batch 128
        ["--activation", "leaky_relu", "--epochs", "5"],
        ["--activation", "relu", "--lr", "1.2e-4", "--batch-size", "1", "--epochs", "1"],
    ],
    ids=["relu", "leaky relu", "relu batch 1"],
)
def test_the_studys_large_early_losses_are_not_a_divergence(flags, capsys, tmp_path):
    """N(0, 1) init makes the initial loss about 1,000 (measured: docs/cli.md); training goes on."""
    argv = ["train", "-c", PAPER, "--data", "sample", *flags, "--out", str(tmp_path / "r"), "-q"]
    code, _, err = run(capsys, *argv)
    assert code == 0, err


@pytest.mark.realdata
def test_the_studys_relu_runs_on_the_full_data_are_not_a_divergence(real_data, capsys, tmp_path):
    for seed in ("0", "1"):
        argv = ["train", "-c", PAPER, "--activation", "relu", "--epochs", "3", "--seed", seed,
                "--out", str(tmp_path / seed), "-q"]  # fmt: skip
        code, _, err = run(capsys, *argv)
        assert code == 0, err


def test_docs_state_the_rule():
    text = " ".join((ROOT / "docs" / "cli.md").read_text().split())
    assert f"above {EXPLODED_LOSS:g}" in text and "exit code 3" in text
