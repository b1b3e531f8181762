"""Logs other tools read: history.jsonl beside history.csv, and TensorBoard event files read back
with the protobuf definitions TensorBoard itself uses."""

from __future__ import annotations

import csv
import json
import struct

import pytest
from netlab.cli import main


def test_history_jsonl_matches_the_csv(tmp_path):
    assert (
        main(["train", "--data", "sample", "--epochs", "3", "--out", str(tmp_path / "r"), "-q"])
        == 0
    )
    lines = (tmp_path / "r" / "history.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [list(r) for r in records] == [
        ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    ] * 3
    with open(tmp_path / "r" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    for record, row in zip(records, rows, strict=True):
        assert record["epoch"] == int(row["epoch"])
        assert record["val_accuracy"] == float(row["val_accuracy"])


def test_nan_becomes_null():
    from netlab.files.runs import history_jsonl

    line = history_jsonl([{"epoch": 1, "train_loss": 0.5, "val_loss": float("nan")}])
    assert json.loads(line)["val_loss"] is None and "NaN" not in line


def read_events(path):
    """Scalars of a TensorBoard event file (TFRecord framing: length, crc, data, crc)."""
    from tensorboardX.proto import event_pb2

    data, at, scalars = path.read_bytes(), 0, {}
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = event_pb2.Event.FromString(data[at + 12 : at + 12 + length])
        at += 12 + length + 4
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_tensorboard_scalars_read_back(tmp_path):
    pytest.importorskip(
        "tensorboardX", reason='needs the tensorboard extra (pip install -e ".[tensorboard]")'
    )
    argv = ["train", "--data", "sample", "--epochs", "3", "--schedule", "cosine", "--out",
            str(tmp_path / "r"), "--tensorboard", str(tmp_path / "tb"), "-q"]  # fmt: skip
    assert main(argv) == 0
    (events,) = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    scalars = read_events(events)
    assert set(scalars) == {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr"}
    history = [json.loads(x) for x in (tmp_path / "r" / "history.jsonl").read_text().splitlines()]
    assert [step for step, _ in scalars["accuracy/val"]] == [1, 2, 3]
    for (_, value), record in zip(scalars["accuracy/val"], history, strict=True):
        assert value == pytest.approx(record["val_accuracy"], rel=1e-6)
    assert [v for _, v in scalars["lr"]] == pytest.approx([r["lr"] for r in history], rel=1e-6)
