"""Mini-batch SGD with classical (or Nesterov) momentum and the study's L2 term, updating in place.

Update for every parameter w with gradient g (L2 only on weights, as the study defines it):
    g <- g + 2 * l2 * w                     (gradient of l2 * sum(w^2); L2, not decoupled decay)
    v <- momentum * v - lr * g
    w <- w + v                              (classical)
    w <- w + momentum * v - lr * g          (Nesterov, in the Sutskever et al. 2013 form)
"""

from __future__ import annotations

import math

from .backend import Array
from .errors import ConfigError

SCHEDULES = ("constant", "cosine")


def scheduled_lr(schedule: str, lr: float, epoch: int, epochs: int) -> float:
    """The learning rate of epoch `epoch` (1-based) of `epochs`, held for the whole epoch.

    constant: lr. cosine: lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2, from lr at epoch 1
    down towards 0 at the end (Loshchilov & Hutter 2017, without restarts).
    """
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))
    raise ConfigError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")


class SGD:
    """SGD over a model's flat parameter buffer.

    Args:
        flat: all parameters, one contiguous array; the first `n_weights` entries are weights.
        grad_flat: their gradients, same shape; read (and used as scratch) by `step`.
        lr, momentum, l2: Python floats; lr > 0, 0 <= momentum < 1, l2 >= 0.
        nesterov: Nesterov momentum instead of classical.
    """

    def __init__(
        self,
        flat: Array,
        grad_flat: Array,
        n_weights: int,
        *,
        lr: float,
        momentum: float = 0.0,
        l2: float = 0.0,
        nesterov: bool = False,
        backend,
    ) -> None:
        if not lr > 0:
            raise ConfigError(f"learning rate must be > 0; got {lr!r}")
        if not 0 <= momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1); got {momentum!r}")
        if not l2 >= 0:
            raise ConfigError(f"l2 must be >= 0; got {l2!r}")
        self.flat, self.grad_flat, self.n_weights = flat, grad_flat, n_weights
        self.lr, self.momentum, self.l2 = float(lr), float(momentum), float(l2)
        self.nesterov = bool(nesterov)
        self.velocity = backend.zeros(flat.shape)

    def step(self) -> None:
        """One in-place update from the gradients currently in grad_flat (which it overwrites)."""
        g, v = self.grad_flat, self.velocity
        if self.l2:
            w = self.flat[: self.n_weights]
            gw = g[: self.n_weights]
            gw += (2.0 * self.l2) * w
        g *= self.lr  # g now holds lr * g
        if self.momentum:
            v *= self.momentum
            v -= g
            if self.nesterov:
                self.flat += self.momentum * v
                self.flat -= g
            else:
                self.flat += v
        else:
            self.flat -= g
