"""The live training display on a terminal (issue 12, item 7): every epoch's line stays on screen
above the two bars, and everything fits 80 and 120 columns."""

from __future__ import annotations

import re

import pytest
from netlab.cli import main, ui
from rich.console import Console

from netlab.training.progress import EpochEnd

TIME = re.compile(r"\d+:\d\d:\d\d")


def _final_screen(monkeypatch, width: int, *argv: str) -> list[str]:
    """The screen after `netlab train ...` on a terminal `width` columns wide (Rich's recording
    console; not interactive, so it holds the final frame instead of every refresh)."""
    term = Console(width=width, record=True, force_terminal=True, force_interactive=False,
                   color_system=None)  # fmt: skip
    monkeypatch.setattr(ui, "console", term)
    assert main(["train", *argv]) == 0
    return term.export_text().rstrip("\n").splitlines()


@pytest.mark.parametrize("width", [80, 120])
def test_live_display_keeps_epochs_and_bars_within_the_width(width, monkeypatch, tmp_path):
    argv = ["--data", "sample", "--epochs", "10", "--hidden", "16", "--out", str(tmp_path / "r")]
    lines = _final_screen(monkeypatch, width, *argv)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    epochs = [line for line in lines if line.startswith("epoch ") and "train" in line]
    assert [int(line.split()[1].split("/")[0]) for line in epochs] == list(range(1, 11))
    assert all("val" in line and "best" in line for line in epochs)
    bars = [line for line in lines if line.startswith(("epochs ", "epoch 10 "))]
    assert len(bars) == 2, "\n".join(lines)
    for bar, count in zip(bars, ("10/10", "19/19"), strict=True):
        assert count in bar and "eta" in bar and len(TIME.findall(bar)) == 2, bar  # elapsed, eta
    if width >= 120:  # room for the full line, with its seconds
        assert all(re.search(r"  \d+\.\d\ds$", line) for line in epochs)


def _event(epoch: int, epochs: int, loss: float, acc: float, stopped: bool = False) -> EpochEnd:
    record = {"epoch": epoch, "train_loss": loss, "train_accuracy": acc, "val_loss": loss,
              "val_accuracy": acc, "lr": 0.01, "seconds": 123.45}  # fmt: skip
    return EpochEnd(epoch, epochs, record, best_epoch=epoch, stopped=stopped)


@pytest.mark.parametrize("width", [80, 120])
def test_epoch_lines_fit_for_long_runs_and_large_losses(width):
    """The study's 100-epoch runs and N(0, 1)-init losses in the thousands still fit."""
    for event in (_event(100, 100, 1626.8347, 1.0), _event(7, 1000, 0.1234, 0.5, stopped=True)):
        line = ui.epoch_line(event, width)
        assert len(line) <= width and "train" in line and "val" in line, line
        assert "(early stop)" not in line  # the live display says so on a line of its own


def test_plain_lines_stay_complete_off_a_terminal():
    line = ui.epoch_line(_event(3, 10, 0.5, 0.8, stopped=True))
    assert line == (
        "epoch  3/10  train loss 0.5000 acc 80.00%  val loss 0.5000 acc 80.00%  best 3  "
        "123.45s  (early stop)"
    )
