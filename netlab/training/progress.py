"""Progress events that `train.fit` sends to its callback (plain data; the CLI renders them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EpochStart:
    epoch: int
    epochs: int
    batches: int


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    batch: int
    batches: int


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    record: dict[str, float]
    best_epoch: int
    stopped: bool  # early stopping triggered after this epoch


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not an error (e.g. a fallback to eager mode)."""

    text: str


Progress = Callable[[Any], None]
