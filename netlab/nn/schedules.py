"""Learning-rate schedules, one registry entry each: the rate of an epoch, held for the whole epoch.

An entry is a function (lr, epoch, epochs) -> the learning rate of `epoch` (1-based) of `epochs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..registry import Registry

Schedule = Callable[[float, int, int], float]
SCHEDULES: Registry[Schedule] = Registry("schedule")


@SCHEDULES.register("constant")
def constant(lr: float, epoch: int, epochs: int) -> float:
    """lr in every epoch."""
    return lr


@SCHEDULES.register("cosine")
def cosine(lr: float, epoch: int, epochs: int) -> float:
    """lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2: from lr at epoch 1 down towards 0 at the
    end (Loshchilov & Hutter 2017, without restarts)."""
    return lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))


def scheduled_lr(schedule: str, lr: float, epoch: int, epochs: int) -> float:
    """The learning rate of epoch `epoch` (1-based) of `epochs` under the named schedule."""
    return SCHEDULES.get(schedule)(lr, epoch, epochs)
