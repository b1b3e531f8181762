"""`netlab reproduce`: train the study's runs (or reuse finished ones), archive their evidence next
to the report, and render the report, its tables and figures from that archive."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ..execute import DEFAULT_STACK_SIZE, execute, failed_runs_error
from ..files import slug
from ..plan import read_summary
from ..results import write_results
from .plan import DEFAULT_BATCH1_EPOCHS, Study, default_experiments_dir, plan_study, share_runs

INVOCATIONS = "invocations.jsonl"


def reproduce(
    *,
    experiments_dir: str | Path | None = None,
    out_dir: str | Path = "runs/reproduce",
    report: str | Path = "docs/reproduction.md",
    workers: int = 1,
    scheduler: Any = None,
    device: str = "cpu",
    blas_threads: int = 1,
    batch1_epochs: int = DEFAULT_BATCH1_EPOCHS,
    report_only: bool = False,
    on_done: Any = None,
    on_start: Any = None,
    stack_size: int = DEFAULT_STACK_SIZE,
    on_packs: Any = None,
) -> dict[str, Any]:
    """Run (or resume) every run of the study in both protocols and write the report; with
    report_only, render the report from the archive beside it without training anything.

    Returns {"ran", "reused", "busy_note", "copied", "seconds", "report", "figures"} (busy_note:
    one line about runs another process was training, left out of the report, or ""). Raises
    NetlabError after writing the tables and the report when some runs failed (a re-run retries
    only those).
    """
    report = _check_report(Path(report), Path(out_dir))
    study = plan_study(experiments_dir or default_experiments_dir(), out_dir, batch1_epochs)
    report.parent.mkdir(parents=True, exist_ok=True)  # inputs are valid: OUT may be made now
    archive_dir = report.with_suffix("") / "runs"
    if report_only:
        if not archive_dir.is_dir():
            raise ConfigError(
                f"--report-only renders from {archive_dir}, which does not exist; run "
                "`netlab reproduce` once without it"
            )
        figures = _render(study, report, archive_dir)
        return {"ran": 0, "reused": 0, "busy_note": "", "copied": 0, "seconds": 0.0,
                "report": report, "figures": figures}  # fmt: skip
    from .archive import environment

    env = environment()  # the code that trains, even if the checkout moves on meanwhile
    unique = study.unique_specs()
    if on_start:
        on_start(study, unique)
    started = time.perf_counter()
    done = execute(unique, workers=workers, scheduler=scheduler, device=device,
                   blas_threads=blas_threads, on_done=on_done, stack_size=stack_size,
                   on_packs=on_packs)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.trained or done.failures:
        command = _command(workers, scheduler, batch1_epochs, device, blas_threads, stack_size)
        log_invocation(study.out_dir, command, len(done.trained), len(done.failures), seconds, env)
    done.busy = [(s, h) for s, h in done.busy if read_summary(s.run_dir) is None]  # still busy
    copied = _collect(study, archive_dir, device, blas_threads)
    figures = _render(study, report, archive_dir)
    if done.failures:
        raise failed_runs_error(done.failures, len(done.todo), report)
    return {"ran": len(done.trained), "busy_note": done.busy_note(), "copied": copied,
            "reused": len(unique) - len(done.trained) - len(done.busy), "seconds": seconds,
            "report": report, "figures": figures}  # fmt: skip


def _check_report(report: Path, out_dir: Path) -> Path:
    """The report must be a .md file in an existing directory, or in OUT (made with the runs)."""
    if report.suffix != ".md":
        raise ConfigError(f"--report must be a Markdown file (.md); got {report}")
    in_out = report.parent.resolve() == out_dir.resolve()
    if not report.parent.is_dir() and not in_out:
        raise ConfigError(f"cannot write {report}: directory {report.parent} does not exist")
    return report


def _collect(study: Study, archive_dir: Path, device: str, blas_threads: int) -> int:
    """Copies for the runs shared between experiments, each experiment's table, and the archive
    of every finished run's small files; returns how many runs were copied."""
    from .archive import archive
    from .measurements import write_measurements

    copied = share_runs(study, device, blas_threads)
    for key, exp in study.experiments.items():
        write_results(exp, study.specs[key], study.out_dir / slug(exp.name))
    archive(study, archive_dir)
    write_measurements(archive_dir, sorted({s.seed for s in study.unique_specs()}) or [0])
    return copied


def _render(study: Study, report: Path, archive_dir: Path) -> dict:
    from ...files.atomic import atomic_write
    from .figures import draw_figures
    from .measurements import read_measurements
    from .report import render_report
    from .results import load_results

    results = load_results(archive_dir, study.experiments)
    measured = read_measurements(archive_dir)
    figures = draw_figures(results, report.with_suffix(""))
    text = render_report(study, results, figures, report, read_invocations(archive_dir), measured)
    atomic_write(report, lambda f: f.write(text.encode()), force=True)
    return figures


def _command(workers, scheduler, batch1_epochs, device, blas_threads, stack_size) -> str:
    return " ".join(
        ["netlab reproduce"]
        + ([f"--workers {workers}"] if scheduler is None else [f"--scheduler {scheduler}"])
        + ([f"--batch1-epochs {batch1_epochs}"] if batch1_epochs != DEFAULT_BATCH1_EPOCHS else [])
        + ([f"--device {device}"] if device != "cpu" else [])
        + ([f"--blas-threads {blas_threads}"] if blas_threads != 1 else [])
        + ([f"--stack-size {stack_size}"] if stack_size != DEFAULT_STACK_SIZE else [])
    )


def log_invocation(
    out_dir: Path, command: str, trained: int, failed: int, seconds: float, env: dict[str, Any]
) -> None:
    """Append one line to OUT/invocations.jsonl: which command trained how many runs in how long,
    with env, the versions and the git commit of the code that trained them (an optional "note"
    key, written by hand, is shown in the report)."""
    record = {
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - seconds)),
        "trained": trained,
        "failed": failed,
        "seconds": round(seconds, 1),
        **env,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / INVOCATIONS, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_invocations(directory: Path) -> list[dict[str, Any]]:
    try:
        lines = (directory / INVOCATIONS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        keys = {"command", "started", "trained", "failed", "seconds"}
        if isinstance(record, dict) and keys <= set(record):
            out.append(record)
    return out
