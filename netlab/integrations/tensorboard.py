"""Training logs other tools read: TensorBoard event files (the `tensorboard` extra, written with
tensorboardX). history.jsonl beside history.csv is written by runs.write_run.

`TensorBoardLog(logdir)` is a progress callback: it writes train/val loss and accuracy and the
learning rate as scalars after every epoch (tag "loss/train", "accuracy/val", "lr", ...).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import NetlabError
from ..training.progress import EpochEnd

SCALARS = (
    ("loss/train", "train_loss"),
    ("loss/val", "val_loss"),
    ("accuracy/train", "train_accuracy"),
    ("accuracy/val", "val_accuracy"),
    ("lr", "lr"),
)


class TensorBoardLog:
    """Writes each EpochEnd's metrics to an event file under `logdir`; call close() at the end."""

    def __init__(self, logdir: str | Path) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise NetlabError(
                '--tensorboard needs the tensorboard extra; pip install -e ".[tensorboard]" '
                "from the netlab checkout"
            ) from None
        self.logdir = Path(logdir)
        if self.logdir.exists() and not self.logdir.is_dir():
            raise NetlabError(f"--tensorboard {self.logdir} is a file; pass a directory")
        self._writer_class, self.writer = SummaryWriter, None

    def __call__(self, event: Any) -> None:
        if not isinstance(event, EpochEnd):
            return
        if self.writer is None:  # created at the first epoch: a failed start writes nothing
            try:
                self.writer = self._writer_class(logdir=str(self.logdir))
            except OSError as exc:
                raise NetlabError(
                    f"cannot write TensorBoard logs in {self.logdir} ({exc})"
                ) from None
        for tag, key in SCALARS:
            value = event.record.get(key)
            if value is not None and math.isfinite(value):
                self.writer.add_scalar(tag, value, event.epoch)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
