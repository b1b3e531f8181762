"""What the CLI shows: the one-line error, tables, JSON, and training progress (rich or plain)."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from netlab.training.progress import BatchEnd, EpochEnd, EpochStart, Notice

# Off a terminal (pipes, CI logs) rich would wrap tables at 80 columns; give them room instead.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """One line on stderr: `error: <message>` (no markup, no wrapping, no traceback)."""
    text = " ".join(str(message).split())
    print(f"error: {text}", file=sys.stderr, flush=True)


def notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def strict_json(data: Any) -> Any:
    """`data` with every NaN or infinite float replaced by None (JSON has no NaN: null)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: strict_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [strict_json(v) for v in data]
    return data


def print_json(data: Any) -> None:
    """Strict JSON on stdout: NaN and infinities become null, never the NaN/Infinity tokens."""
    print(json.dumps(strict_json(data), indent=2, allow_nan=False))


def print_packs(packs: list[list[Any]], label: Any) -> None:
    """One line per stack the sweep trains (packs of several runs), naming its runs."""
    stacks = [p for p in packs if len(p) > 1]
    if not stacks:
        return
    alone = len(packs) - len(stacks)
    console.print(f"{sum(map(len, stacks))} runs train as {len(stacks)} stacks, {alone} alone "
                  "(--stack-size 1: every run alone):", markup=False)  # fmt: skip
    for i, pack in enumerate(stacks, 1):
        runs = "; ".join(f"{label(s)} seed {s.seed}" for s in pack)
        console.print(f"  stack {i} ({len(pack)} runs): {runs}", markup=False)


def pct(x: float) -> str:
    return f"{100.0 * x:.2f}%"


def epoch_line(event: EpochEnd, width: int | None = None) -> str:
    """One line per finished epoch: its metrics, the best epoch so far and the seconds it took.
    With a `width` (the live display, which says "early stop" on a line of its own) it is
    shortened until it fits: the seconds dropped first, then the labels."""
    r, n = event.record, len(str(event.epochs))
    epoch = f"epoch {r['epoch']:>{n}}/{event.epochs}"
    tail = "  (early stop)" if event.stopped and width is None else ""
    tr = (f"{r['train_loss']:.4f}", pct(r["train_accuracy"]))
    va = (f"{r['val_loss']:.4f}", pct(r["val_accuracy"]))
    forms = [
        f"{epoch}  train loss {tr[0]} acc {tr[1]}  val loss {va[0]} acc {va[1]}  "
        f"best {event.best_epoch}  {r['seconds']:.2f}s{tail}",
        f"{epoch}  train loss {tr[0]} acc {tr[1]}  val loss {va[0]} acc {va[1]}  "
        f"best {event.best_epoch}{tail}",
        f"{epoch}  train {tr[0]} {tr[1]}  val {va[0]} {va[1]}  best {event.best_epoch}{tail}",
    ]
    return next((f for f in forms if width is None or len(f) <= width), forms[-1])


class TrainingProgress:
    """Progress callback for `netlab.train`: rich bars on a terminal, one line per epoch elsewhere.

    On a terminal each finished epoch's line is printed above two live bars (epochs, and the
    batches of the current epoch, each with its count, elapsed time and ETA), so earlier epochs
    stay on screen and every line fits 80 columns. Use as a context manager; `mode` is "rich",
    "plain" or "quiet".
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.progress: Progress | None = None
        self.epoch_task = self.batch_task = None

    def __enter__(self) -> TrainingProgress:
        if self.mode == "rich":
            self.progress = Progress(
                TextColumn("{task.description:<9}"),
                BarColumn(bar_width=None),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def __call__(self, event: Any) -> None:
        if self.mode == "quiet":
            return
        if isinstance(event, Notice):
            (self.progress.console if self.progress else console).print(
                f"note: {event.text}", markup=False
            )
            return
        if self.mode == "plain":
            if isinstance(event, EpochEnd):
                print(epoch_line(event), flush=True)
            return
        p = self.progress
        if isinstance(event, EpochStart):
            if self.epoch_task is None:
                self.epoch_task = p.add_task(
                    "epochs", total=event.epochs, completed=event.epoch - 1
                )
                self.batch_task = p.add_task("batches", total=event.batches)
            p.reset(self.batch_task, total=event.batches, description=f"epoch {event.epoch}")
        elif isinstance(event, BatchEnd):
            p.advance(self.batch_task)
        elif isinstance(event, EpochEnd):
            p.console.print(epoch_line(event, p.console.width), markup=False)
            p.update(self.epoch_task, completed=event.epoch)
            if event.stopped:
                p.update(self.epoch_task, total=event.epoch)
                p.console.print(f"early stop after epoch {event.epoch} (best {event.best_epoch})")


def progress_mode(quiet: bool) -> str:
    if quiet:
        return "quiet"
    return "rich" if console.is_terminal else "plain"


def table(
    title: str, columns: list[str], rows: list[list[Any]], justify_right: bool = True
) -> Table:
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if justify_right and i > 0 else "left")
    for row in rows:
        t.add_row(*[str(v) for v in row])
    return t
