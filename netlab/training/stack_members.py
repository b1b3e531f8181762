"""The runs of a stack: which runs may stack (stack_key) and where each stands (Member)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import Config
from ..errors import NetlabError
from ..nn.optimizers import OPTIMIZERS

# Config fields a stack's runs must share (besides the optimizer's true-or-false settings).
SHARED = (
    "model.hidden", "model.activation", "model.leaky_slope", "training.batch_size",
    "training.optimizer", "training.loss_norm", "training.label_smoothing", "training.dtype",
    "data.source", "data.dir", "data.path", "data.val_fraction", "data.normalization",
)  # fmt: skip


def stack_key(config: Config) -> tuple | None:
    """What runs must share to train in one stack, or None when this run trains alone
    (augmentation; an optimizer that is not stackable)."""
    c = config.resolved()
    entry = OPTIMIZERS.get(c.training.optimizer)
    if c.training.augment or not entry.stackable:
        return None
    flags = [s.name for s in entry.settings if isinstance(s.default, bool)]
    values = [_field(c, f) for f in SHARED] + [getattr(c.training, f) for f in flags]
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


def _field(c: Config, dotted: str) -> Any:
    section, name = dotted.split(".")
    return getattr(getattr(c, section), name)


@dataclass
class Member:
    """One run of a stack: its config, generators, data and where it stands."""

    config: Config
    rngs: Any
    data: Any
    base_lr: float
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float = math.inf
    best_epoch: int = 0
    stopped: bool = False
    error: NetlabError | None = None
    seconds: float = 0.0

    @property
    def t(self):
        return self.config.training

    def active(self, epoch: int) -> bool:
        return self.error is None and not self.stopped and epoch <= self.t.epochs


def finite(tr: Any, va: Any) -> bool:
    """Whether a (train, validation) pair of evaluations has finite losses."""
    return math.isfinite(tr.loss) and (va is None or math.isfinite(va.loss))


def row_state(sizes: list[int], row: np.ndarray) -> dict[str, np.ndarray]:
    """name -> host array of one model's flat buffer (a row of a stack's), layer sizes `sizes`."""
    from ..nn.layers import parameter_shapes

    out, offset = {}, 0
    for name, shape in parameter_shapes(sizes).items():
        size = math.prod(shape)
        out[name] = row[offset : offset + size].reshape(shape)
        offset += size
    return out
