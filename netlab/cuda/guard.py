"""Graph mode, guarded: every capture and launch of the training graph is checked. A failure
before any weights changed falls back to eager CuPy (one note; an error under --graph); a failure
after restores the epoch's start and trains it eagerly (or, under --graph, stops with the last
checkpoint intact); a poisoned CUDA context (a sticky fault) stops with GPUStateLost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import BackendError
from .fault import context_lost, describe, lost


class GuardedEpoch:
    """Runs epochs through `graph` (a GraphEpoch) until it fails once, then through `eager`.

    Advances optimizer.steps itself on either path (train_epoch does on the eager one).

    Args:
        graph: the GraphEpoch of this fit.
        eager: eager(order, on_batch) trains one epoch eagerly, returning what train_epoch does.
        forced: --graph was given: a graph failure is an error instead of a fallback.
        notify: notify(text) receives the one-line note of a fallback.
    """

    def __init__(self, graph: Any, eager: Callable, forced: bool, notify=None) -> None:
        self.graph, self.eager, self.forced, self.notify = graph, eager, forced, notify
        self.failed = ""  # why graph mode stopped ("" while it trains)
        self.n_steps = graph.n_steps

    def run(self, order: np.ndarray, lr: float, on_batch: Callable[[int], None] | None = None):
        if self.failed:
            return self.eager(order, on_batch)
        g = self.graph
        model, opt, cp = g.model, g.optimizer, g.cp
        start = {"flat": model.flat.copy(), "steps": opt.steps,
                 "opt": {k: v.copy() for k, v in opt.state.items()}}  # fmt: skip
        launched: list[int] = []
        try:
            sums = g.run(order, lr, on_batch, launched=launched)
        except Exception as exc:  # CuPy/CUDA errors have no common base class
            if context_lost(cp, exc):
                raise lost(exc) from None
            self._recover(exc, bool(launched), start)
            return self.eager(order, on_batch)
        opt.steps += g.n_steps
        return sums

    def _recover(self, exc: Exception, changed: bool, start: dict) -> None:
        """Put the epoch's start back when a launch may have changed the weights, then note the
        fallback (or raise under --graph)."""
        g = self.graph
        if changed:
            try:
                xp = g.model.backend.xp
                xp.copyto(g.model.flat, start["flat"])
                for k, v in start["opt"].items():
                    xp.copyto(g.optimizer.state[k], v)
                g.optimizer.steps = start["steps"]
            except Exception as again:  # the restore fails too: the context is gone
                raise lost(again) from None
        when = "launching" if changed else "capturing"
        self.failed = f"{when} the training graph failed ({describe(exc)})"
        if self.forced:
            raise BackendError(
                f"graph mode (--graph) failed: {self.failed}; the last checkpoint is intact: "
                "resume with --no-graph to train eagerly on CUDA"
            ) from None
        if self.notify:
            restart = "; this epoch restarts" if changed else ""
            self.notify(f"{self.failed}{restart}; training eagerly on CUDA")
