"""SIGTERM handled like Ctrl-C: what schedulers, `docker stop` and `kill` send to ask a command
to stop.

While a command runs, SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread at the
next bytecode boundary; a long NumPy or BLAS call finishes first. Every file netlab writes is
written atomically (files/atomic.py) and a sweep's run counts only once its metrics.json exists, so
any such point is a safe one: the commands' Ctrl-C paths then say what is on disk and how to
continue, with "terminated (SIGTERM)" and exit code 143 (128 + 15) instead of "interrupted" and
130. A second SIGTERM while the command is stopping is ignored (SIGKILL still ends it at once).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from netlab.errors import Interrupted

_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop like Ctrl-C, exit 143."""


def _on_sigterm(signum: int, frame: Any) -> None:
    if _received:  # already stopping: let the cleanup finish
        return
    _received.append(signum)
    raise Terminated()


@contextmanager
def handling() -> Iterator[None]:
    """SIGTERM raises Terminated while the block runs (main thread only; restored after)."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def terminated() -> bool:
    """Whether SIGTERM stopped the current command (else an interruption was Ctrl-C)."""
    return bool(_received)


def exit_code() -> int:
    return 143 if terminated() else 130


def stopped(what: str) -> str:
    """'interrupted; <what>' after Ctrl-C, 'terminated (SIGTERM); <what>' after SIGTERM."""
    return f"{'terminated (SIGTERM)' if terminated() else 'interrupted'}; {what}"


def interrupted(what: str) -> Interrupted:
    """The error a command raises when Ctrl-C or SIGTERM stopped it: `what` says what is on disk
    and how to continue; the exit code is 130 or 143."""
    error = Interrupted(stopped(what))
    error.exit_code = exit_code()
    return error
