"""The study, reproduced: every experiment of its Figure 1 in two protocols, one report.

`reproduce()` loads the experiment files configs/experiments/{paper,corrected}/{regularization,
activations,topology,depth}.toml, plans every (variant, seed) run, trains each distinct run once
(the 50x50 tanh baseline appears in all four experiments of a protocol; a run that another
experiment already needs is copied, not retrained), writes each experiment's table and curves under
OUT/<experiment name>/, and renders docs/reproduction.md: the study's Figure 1 next to netlab's
numbers, every experiment's table and plot, the Figure 3 gradient check, and the findings, each
computed from the runs.

The study's ReLU and leaky-ReLU runs use batch 1 (48,000 updates per epoch). At full length
(100 epochs) each costs 15–18 minutes of one core here, so `batch1_epochs` caps those runs (the
report says so next to every number it affects); `batch1_epochs=0` runs them at full length.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ..execute import execute, failed_runs_error
from ..files import Experiment, load_experiment, slug
from ..plan import RunSpec, plan, read_summary
from ..results import write_results

PROTOCOLS = ("paper", "corrected")
EXPERIMENTS = ("regularization", "activations", "topology", "depth")
DEFAULT_BATCH1_EPOCHS = 10
INVOCATIONS = "invocations.jsonl"


FIGURE1 = (
    ("λ = 0", 1.54, 78.36, "regularization", "l2=0"),
    ("λ = 1e-2", 1.17, 19.98, "regularization", "l2=0.01"),
    ("λ = 1e-3", 1.87, 63.16, "regularization", "l2=0.001"),
    ("λ = 1e-4", 7.88, 73.25, "regularization", "l2=0.0001"),
    ("Leaky ReLU", 1.84, 80.07, "activations", "leaky relu, lr 1.2e-4, batch 1"),
    ("ReLU", 1.84, 77.93, "activations", "relu, lr 1.2e-4, batch 1"),
    ("Sigmoid", 1.08, 77.43, "activations", "sigmoid"),
    ("Tanh", 1.54, 78.36, "activations", "tanh"),
    ("25 × 50", 1.58, 72.14, "topology", "hidden=25x50"),
    ("50 × 25", 1.42, 68.22, "topology", "hidden=50x25"),
    ("50 × 50", 1.54, 78.36, "topology", "hidden=50x50"),
    ("50 × 100", 1.48, 63.84, "topology", "hidden=50x100"),
    ("100 × 50", 1.51, 63.98, "topology", "hidden=100x50"),
    ("1 layer (53 nodes)", 1.61, 71.38, "depth", "hidden=53"),
    ("2 layers (50 nodes)", 1.54, 78.36, "depth", "hidden=50x50"),
    ("3 layers (47 nodes)", 1.50, 70.03, "depth", "hidden=47x47x47"),
)


@dataclass
class Study:
    """The experiments of both protocols, their runs, and which runs are the same training."""

    experiments: dict[tuple[str, str], Experiment]  # (protocol, experiment) -> Experiment
    specs: dict[tuple[str, str], list[RunSpec]]
    canonical: dict[Path, Path]  # run dir -> run dir of the identical run that trains
    out_dir: Path
    batch1_epochs: int

    def unique_specs(self) -> list[RunSpec]:
        return [
            s
            for specs in self.specs.values()
            for s in specs
            if self.canonical[s.run_dir] == s.run_dir
        ]


def default_experiments_dir() -> Path:
    """configs/experiments of the current directory, else of the checkout netlab runs from."""
    here = Path("configs/experiments")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "configs" / "experiments"


def run_key(spec: RunSpec) -> str:
    """Two runs with the same key train identically: their configs differ at most in the name."""
    return dataclasses.replace(spec.config, name="run").to_toml()


def plan_study(
    experiments_dir: str | Path, out_dir: str | Path, batch1_epochs: int = DEFAULT_BATCH1_EPOCHS
) -> Study:
    """Load and validate all eight experiment files and plan their runs (nothing runs yet)."""
    if isinstance(batch1_epochs, bool) or not isinstance(batch1_epochs, int) or batch1_epochs < 0:
        raise ConfigError(f"--batch1-epochs must be an integer >= 0; got {batch1_epochs!r}")
    experiments_dir, out_dir = Path(experiments_dir), Path(out_dir)
    experiments, specs = {}, {}
    for protocol in PROTOCOLS:
        for name in EXPERIMENTS:
            path = experiments_dir / protocol / f"{name}.toml"
            if not path.is_file():
                raise ConfigError(
                    f"experiment file {path} not found; run from the netlab checkout or pass "
                    "--experiments DIR holding paper/ and corrected/"
                )
            exp = load_experiment(path)
            experiments[protocol, name] = exp
            planned = plan(exp, out_dir / slug(exp.name))
            specs[protocol, name] = [_capped(s, batch1_epochs) for s in planned]
    for protocol, name, row_variant in ((p, e, v) for p in PROTOCOLS for _, _, _, e, v in FIGURE1):
        if row_variant not in {v.name for v in experiments[protocol, name].variants}:
            raise ConfigError(
                f"{experiments[protocol, name].path} has no variant {row_variant!r}, which the "
                "study's Figure 1 needs"
            )
    canonical: dict[Path, Path] = {}
    first: dict[str, Path] = {}
    for group in specs.values():
        for spec in group:
            canonical[spec.run_dir] = first.setdefault(run_key(spec), spec.run_dir)
    return Study(experiments, specs, canonical, out_dir, batch1_epochs)


def _capped(spec: RunSpec, batch1_epochs: int) -> RunSpec:
    t = spec.config.training
    if t.batch_size != 1 or not batch1_epochs or t.epochs <= batch1_epochs:
        return spec
    config = dataclasses.replace(spec.config, training=dataclasses.replace(t, epochs=batch1_epochs))
    return dataclasses.replace(spec, config=config)


def share_runs(study: Study, device: str = "cpu", blas_threads: int = 1) -> int:
    """Copy each finished training run to the directories of the identical runs that reuse it.

    The copy's config.toml is its own (the name differs, nothing else) and its metrics.json names
    its own variant plus `same_run_as`. Returns how many runs were copied.
    """
    from ...files.atomic import atomic_write
    from ..plan import is_finished

    copied = 0
    by_dir = {s.run_dir: s for group in study.specs.values() for s in group}
    for run_dir, source in study.canonical.items():
        spec = by_dir[run_dir]
        if source == run_dir or is_finished(spec, device, blas_threads):
            continue
        summary = read_summary(source)
        if summary is None:
            continue  # the source failed or has not run
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in ("model.npz", "history.csv"):
            shutil.copyfile(source / name, run_dir / name)
        info = {**summary, "variant": spec.variant, "same_run_as": str(source)}
        texts = {
            "config.toml": spec.config.to_toml(),
            "metrics.json": json.dumps(info, indent=2) + "\n",
        }
        for name, text in texts.items():  # metrics.json last: its presence marks a finished run
            atomic_write(run_dir / name, lambda f, t=text: f.write(t.encode()), force=True)
        copied += 1
    return copied


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
    on_done: Any = None,
    on_start: Any = None,
) -> dict[str, Any]:
    """Run (or resume) every run of the study in both protocols and write the report.

    Returns {"ran", "reused", "busy_note", "copied", "seconds", "report", "figures"} (busy_note:
    one line about runs another process was training, left out of the report, or ""). Raises
    NetlabError after writing the tables and the report when some runs failed (a re-run retries
    only those).
    """
    report = Path(report)
    if report.suffix != ".md":
        raise ConfigError(f"--report must be a Markdown file (.md); got {report}")
    if not report.parent.is_dir():
        raise ConfigError(f"cannot write {report}: directory {report.parent} does not exist")
    study = plan_study(experiments_dir or default_experiments_dir(), out_dir, batch1_epochs)
    figures_dir = report.with_suffix("")
    unique = study.unique_specs()
    if on_start:
        on_start(study, unique)
    started = time.perf_counter()
    done = execute(
        unique,
        workers=workers,
        scheduler=scheduler,
        device=device,
        blas_threads=blas_threads,
        on_done=on_done,
    )
    seconds = time.perf_counter() - started
    command = " ".join(
        ["netlab reproduce"]
        + ([f"--workers {workers}"] if scheduler is None else [f"--scheduler {scheduler}"])
        + ([f"--batch1-epochs {batch1_epochs}"] if batch1_epochs != DEFAULT_BATCH1_EPOCHS else [])
        + ([f"--device {device}"] if device != "cpu" else [])
        + ([f"--blas-threads {blas_threads}"] if blas_threads != 1 else [])
    )
    if done.trained or done.failures:
        log_invocation(study.out_dir, command, len(done.trained), len(done.failures), seconds)
    done.busy = [(s, h) for s, h in done.busy if read_summary(s.run_dir) is None]  # still busy
    copied = share_runs(study, device, blas_threads)
    tables = {}
    for key, exp in study.experiments.items():
        tables[key] = write_results(exp, study.specs[key], study.out_dir / slug(exp.name))
    from .figures import draw_figures
    from .report import render_report

    figures = draw_figures(study, figures_dir)
    text = render_report(
        study,
        tables,
        figures,
        report,
        run_info={
            "unique": len(unique),
            "planned": sum(len(v) for v in study.specs.values()),
            "device": device,
            "blas_threads": blas_threads,
            "invocations": read_invocations(study.out_dir),
        },
    )
    from ...files.atomic import atomic_write

    atomic_write(report, lambda f: f.write(text.encode()), force=True)
    if done.failures:
        raise failed_runs_error(done.failures, len(done.todo), report)
    return {
        "ran": len(done.trained),
        "reused": len(unique) - len(done.trained) - len(done.busy),
        "busy_note": done.busy_note(),
        "copied": copied,
        "seconds": seconds,
        "report": report,
        "figures": figures,
    }


def log_invocation(out_dir: Path, command: str, trained: int, failed: int, seconds: float) -> None:
    """Append one line to OUT/invocations.jsonl: which command trained how many runs, how long."""
    record = {
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - seconds)),
        "trained": trained,
        "failed": failed,
        "seconds": round(seconds, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / INVOCATIONS, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_invocations(out_dir: Path) -> list[dict[str, Any]]:
    try:
        lines = (out_dir / INVOCATIONS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(record, dict) and {
            "command",
            "started",
            "trained",
            "failed",
            "seconds",
        } <= set(record):
            out.append(record)
    return out
