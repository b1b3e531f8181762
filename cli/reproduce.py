"""`netlab reproduce`: the study's experiments in both protocols, then docs/reproduction.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import options
from .signals import interrupted
from .ui import console, notice, print_json, print_packs

Out = typer.Option(
    Path("runs/reproduce"), "--out", "-o", help="Where the runs go (one folder per experiment)."
)
Report = typer.Option(
    None,
    "--report",
    help="The Markdown report to (re)write (default: docs/reproduction.md in a netlab "
    "checkout, else OUT/reproduction.md).",
)
Experiments = typer.Option(
    None,
    "--experiments",
    help="Folder with paper/ and corrected/ experiment files (default: configs/experiments "
    "of the current directory if there is one, else the installed presets).",
)
Batch1Epochs = typer.Option(
    0,
    "--batch1-epochs",
    help="Cap the study's batch-1 ReLU runs at this many epochs (marked † in the report); "
    "0 = the study's full 100.",
)
ReportOnly = typer.Option(
    False,
    "--report-only",
    help="Train nothing: re-render the report, tables and figures from the runs archived "
    "beside it (REPORT's folder/runs).",
)


def reproduce(
    out: Path = Out,
    report: Path = Report,
    experiments: Path = Experiments,
    workers: int = options.Workers,
    scheduler: str = options.Scheduler,
    blas_threads: int = options.BlasThreads,
    stack_size: int = options.StackSize,
    batch1_epochs: int = Batch1Epochs,
    report_only: bool = ReportOnly,
    device: str = options.Device,
    quiet: bool = options.RunsQuiet,
    json_out: bool = options.Json,
) -> None:
    """Reproduce the study (resumable: finished runs are kept) and write the report."""
    from netlab.experiments.study.run import reproduce as run_study

    if report is None:
        in_checkout = Path("docs").is_dir() and Path("configs/experiments").is_dir()
        report = Path("docs/reproduction.md") if in_checkout else out / "reproduction.md"
    runs = _Runs(device, blas_threads, show=not (quiet or json_out))
    try:
        with runs.bar:
            result = run_study(
                experiments_dir=experiments,
                out_dir=out,
                report=report,
                workers=workers,
                scheduler=scheduler,
                device=device,
                blas_threads=blas_threads,
                batch1_epochs=batch1_epochs,
                report_only=report_only,
                on_done=runs.on_done,
                on_start=runs.on_start,
                stack_size=stack_size,
                on_packs=runs.on_packs,
            )
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (signals.py)
        raise interrupted(
            f"the finished runs are kept in {out} ({runs.done} trained by this command), the "
            f"runs in progress were stopped unfinished ({report} is written only after the last "
            "run); the same netlab reproduce command trains the rest and writes the report"
        ) from None
    _summary(result, json_out)


class _Runs:
    """A live bar over the runs on a terminal, a header and one line per finished run everywhere
    (unless `show` is off); `done` counts the runs this command trained."""

    def __init__(self, device: str, blas_threads: int, show: bool) -> None:
        self.device, self.blas_threads, self.show = device, blas_threads, show
        self.bar = Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console,
                            disable=not (show and console.is_terminal))  # fmt: skip
        self.task: Any = None
        self.done = 0
        self.todo = 0

    def on_start(self, study: Any, unique: list[Any]) -> None:
        from netlab.experiments.plan import is_finished

        self.todo = sum(not is_finished(s, self.device, self.blas_threads) for s in unique)
        self.task = self.bar.add_task("runs", total=self.todo)
        if self.show:
            planned = sum(len(v) for v in study.specs.values())
            console.print(
                f"reproducing the study: {planned} runs in {len(study.specs)} experiments, "
                f"{len(unique)} distinct, {len(unique) - self.todo} already finished; "
                f"runs in {study.out_dir}",
                markup=False,
            )

    def on_packs(self, packs: list[list[Any]]) -> None:
        if self.show:
            print_packs(packs, lambda s: f"{s.run_dir.parent.parent.name} / {s.variant}")

    def on_done(self, spec: Any, summary: dict[str, Any]) -> None:
        self.done += 1
        self.bar.advance(self.task)
        if self.show:
            self.bar.console.print(
                f"({self.done}/{self.todo}) {spec.run_dir.parent.parent.name} / "
                f"{spec.variant} seed {spec.seed}: test accuracy "
                f"{100 * summary['test_accuracy']:.2f}% (best epoch {summary['best_epoch']} by "
                f"validation), {summary['train_seconds']:.1f}s",
                markup=False,
            )


def _summary(result: dict[str, Any], json_out: bool) -> None:
    if result.get("busy_note") and not json_out:
        notice(f"note: {result['busy_note']}")
    if json_out:
        print_json({k: str(v) if isinstance(v, Path) else v for k, v in result.items()
                    if k != "figures"})  # fmt: skip
        return
    console.print(
        f"trained {result['ran']} runs in {result['seconds'] / 60:.1f} min "
        f"({result['reused']} already finished); wrote {result['report']}",
        markup=False,
    )
