"""`netlab reproduce`: the study's experiments in both protocols, then docs/reproduction.md."""

from __future__ import annotations

from pathlib import Path

import typer

from . import options
from .signals import interrupted
from .ui import console, notice, print_json


def reproduce(
    out: Path = typer.Option(
        Path("runs/reproduce"), "--out", "-o", help="Where the runs go (one folder per experiment)."
    ),
    report: Path = typer.Option(
        None,
        "--report",
        help="The Markdown report to (re)write (default: docs/reproduction.md in a netlab "
        "checkout, else OUT/reproduction.md).",
    ),
    experiments: Path = typer.Option(
        None,
        "--experiments",
        help="Folder with paper/ and corrected/ experiment files (default: configs/experiments "
        "of the current directory if there is one, else the installed presets).",
    ),
    workers: int = typer.Option(
        1, "--workers", "-w", min=1, max=256, help="Local worker processes."
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786) instead of local workers. "
        "\\[default: none: local workers]",
    ),
    blas_threads: int = typer.Option(
        1,
        "--blas-threads",
        min=1,
        max=256,
        help="BLAS threads per run; the same value gives the same numbers.",
    ),
    batch1_epochs: int = typer.Option(
        0,
        "--batch1-epochs",
        help="Cap the study's batch-1 ReLU runs at this many epochs (marked † in the report); "
        "0 = the study's full 100.",
    ),
    report_only: bool = typer.Option(
        False,
        "--report-only",
        help="Train nothing: re-render the report, tables and figures from the runs archived "
        "beside it (REPORT's folder/runs).",
    ),
    device: str = options.Device,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-run lines."),
    json_out: bool = options.Json,
) -> None:
    """Reproduce the study (resumable: finished runs are kept) and write the report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..experiments.study.run import reproduce as run_study

    if report is None:
        in_checkout = Path("docs").is_dir() and Path("configs/experiments").is_dir()
        report = Path("docs/reproduction.md") if in_checkout else out / "reproduction.md"
    show = not (quiet or json_out)
    bar = Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not (show and console.is_terminal))  # fmt: skip
    state = {"task": None, "done": 0, "todo": 0}

    def on_start(study, unique) -> None:
        from ..experiments.plan import is_finished

        state["todo"] = sum(not is_finished(s, device, blas_threads) for s in unique)
        state["task"] = bar.add_task("runs", total=state["todo"])
        if show:
            planned = sum(len(v) for v in study.specs.values())
            console.print(
                f"reproducing the study: {planned} runs in {len(study.specs)} experiments, "
                f"{len(unique)} distinct, {len(unique) - state['todo']} already finished; "
                f"runs in {study.out_dir}",
                markup=False,
            )

    def on_done(spec, summary) -> None:
        state["done"] += 1
        bar.advance(state["task"])
        if show:
            bar.console.print(
                f"({state['done']}/{state['todo']}) {spec.run_dir.parent.parent.name} / "
                f"{spec.variant} seed {spec.seed}: test accuracy "
                f"{100 * summary['test_accuracy']:.2f}% (best epoch {summary['best_epoch']} by "
                f"validation), {summary['train_seconds']:.1f}s",
                markup=False,
            )

    try:
        with bar:
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
                on_done=on_done,
                on_start=on_start,
            )
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (signals.py)
        raise interrupted(
            f"the finished runs are kept in {out} ({state['done']} trained by this command), the "
            f"runs in progress were stopped unfinished ({report} is written only after the last "
            "run); the same netlab reproduce command trains the rest and writes the report"
        ) from None
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
