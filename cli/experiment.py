"""`netlab experiment FILE.toml`: every (variant, seed) run of an experiment, then its table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netlab.errors import ConfigError, NetlabError

from . import options
from .signals import interrupted
from .ui import console, notice, print_json, print_packs

ExperimentFile = typer.Argument(
    ...,
    help="Experiment file (TOML: base config, variants, seeds) or preset name, e.g. "
    "paper/regularization (netlab config list).",
)
Out = typer.Option(None, "--out", "-o", help="Sweep directory (default: runs/<name>).")


def experiment(
    file: Path = ExperimentFile,
    out: Path = Out,
    workers: int = options.Workers,
    scheduler: str = options.Scheduler,
    blas_threads: int = options.BlasThreads,
    stack_size: int = options.StackSize,
    device: str = options.Device,
    quiet: bool = options.RunsQuiet,
    json_out: bool = options.Json,
) -> None:
    """Run an experiment (finished runs are skipped, so an interrupted sweep resumes)."""
    from netlab.experiments.execute import run_experiment
    from netlab.experiments.files import load_experiment, slug
    from netlab.experiments.plan import is_finished, plan, read_summary
    from netlab.presets import experiment_path

    if file.is_dir():
        raise ConfigError(
            f"{file} is a directory; pass an experiment file or a preset name, e.g. "
            "configs/experiments/paper/depth.toml or paper/depth"
        )
    exp = load_experiment(experiment_path(file))
    out_dir = out if out is not None else Path("runs") / slug(exp.name)
    specs = plan(exp, out_dir)
    todo = sum(not is_finished(s, device, blas_threads) for s in specs)
    show = not (quiet or json_out)
    bar, on_done = _progress(todo, show)
    if show:
        console.print(
            f"{exp.name}: {len(specs)} runs in {out_dir} ({len(exp.variants)} variants x "
            f"{len(exp.seeds)} seeds), {len(specs) - todo} already finished",
            markup=False,
        )
    try:
        with bar:
            result = run_experiment(
                exp,
                out_dir,
                workers=workers,
                scheduler=scheduler,
                device=device,
                blas_threads=blas_threads,
                on_done=on_done,
                stack_size=stack_size,
                on_packs=(lambda packs: print_packs(packs, lambda s: s.variant)) if show else None,
            )
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (signals.py)
        finished = sum(read_summary(s.run_dir) is not None for s in specs)
        raise interrupted(
            f"{finished} of {len(specs)} runs are finished in {out_dir} and kept; the runs in "
            f"progress were stopped unfinished; netlab experiment {file} --out {out_dir} trains "
            "the rest"
        ) from None
    _report(result, exp, out_dir, json_out)


def _progress(todo: int, show: bool) -> tuple[Any, Any]:
    """(the bar, the on_done callback): a live bar over the runs on a terminal; one line per
    finished run everywhere (unless `show` is off)."""
    bar = Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not (show and console.is_terminal))  # fmt: skip
    task = bar.add_task("runs", total=todo)
    done = {"n": 0}

    def on_done(spec, summary) -> None:
        done["n"] += 1
        bar.advance(task)
        if show:
            bar.console.print(
                f"({done['n']}/{todo}) {spec.variant} seed {spec.seed}: "
                f"test accuracy {100 * summary['test_accuracy']:.2f}% "
                f"(best epoch {summary['best_epoch']} by validation), "
                f"{summary['train_seconds']:.1f}s",
                markup=False,
            )

    return bar, on_done


def _report(result: dict[str, Any], exp: Any, out_dir: Path, json_out: bool) -> None:
    """The sweep's table (or its JSON summary), then its learning curves when plots work."""
    if result["busy_note"] and not json_out:
        notice(f"note: {result['busy_note']}")
    if json_out:
        print_json(
            {
                "ran": result["ran"],
                "skipped": result["skipped"],
                "busy": result["busy"],
                "rows": result["rows"],
                "csv": str(result["csv"]),
                "markdown": str(result["markdown"]),
            }
        )
        return
    console.print(Path(result["markdown"]).read_text(), markup=False)
    console.print(f"wrote {result['csv']} and {result['markdown']}")
    _plot(exp, out_dir)


def _plot(exp: Any, out_dir: Path) -> None:
    try:
        from netlab.integrations.plots import histories_under, plot_curves

        groups, _ = histories_under(out_dir)
        names = {v.name for v in exp.variants}
        groups = {k: v for k, v in groups.items() if k in names}  # not leftovers of old variants
        plot_curves(groups, out_dir / "curves.png", title=exp.name)
        console.print(f"wrote {out_dir / 'curves.png'}")
    except NetlabError as exc:  # plots are optional (the plots extra)
        console.print(f"no plot: {exc}")
