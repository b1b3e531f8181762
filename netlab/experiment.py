"""Experiments: a base config, variants (a list and/or a grid) and seeds, each run a training.

An experiment file (TOML):

    name = "regularization"
    base = "../paper/baseline.toml"   # relative to this file; omitted: the built-in defaults
    seeds = [0, 1, 2]                 # or a count: seeds = 3 -> [0, 1, 2]

    [overrides]                       # applied to every variant
    training = { epochs = 100 }

    [[variants]]                      # an explicit list...
    name = "relu, lr 1.2e-4, batch 1"
    model = { activation = "relu" }
    training = { lr = 1.2e-4, batch_size = 1 }

    [grid]                            # ...and/or the product of value lists
    training = { l2 = [0.0, 1e-4, 1e-3, 1e-2] }

Each (variant, seed) is one run with its own directory OUT/<variant>/seed<N>/ holding the four files
of a training run (runs.py). A run counts as finished when its metrics.json exists (written last)
and its config.toml is the resolved config of the plan, so an interrupted sweep resumes where it
stopped; a directory holding a different config is an error, never silently reused.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import SECTIONS, Config, config_from_dict, load_config
from .errors import ConfigError, NetlabError, OutputExistsError

TOP_KEYS = ("name", "base", "seeds", "overrides", "variants", "grid")


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict[str, Any]  # "section.key" -> value


@dataclass(frozen=True)
class Experiment:
    name: str
    path: Path
    base: Config
    overrides: dict[str, Any]
    variants: tuple[Variant, ...]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class RunSpec:
    """One training run of an experiment: picklable, so any executor can carry it."""

    variant: str
    seed: int
    config: Config
    run_dir: Path


def _flatten(origin: str, where: str, table: Any) -> dict[str, Any]:
    """{section: {key: value}} -> {"section.key": value}, rejecting unknown sections."""
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: {where} must be a table of [model], [training], [data]")
    flat = {}
    for section, values in table.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"{origin}: {where}: unknown section {section!r}; expected model, training or data"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: {where}.{section} must be a table, got {values!r}")
        for key, value in values.items():
            flat[f"{section}.{key}"] = value
    return flat


def _label(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "x".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _slug(name: str) -> str:
    """A directory name for a variant: letters, digits and _ . + kept, everything else '-'."""
    text = "".join(c if c.isalnum() or c in "_.+" else "-" for c in name)
    return "-".join(part for part in text.split("-") if part).strip(".") or "variant"


RESERVED = ("results.csv", "results.md", "curves.png")


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every variant's config is validated up front."""
    path = Path(path)
    origin = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"experiment file {path} not found; pass an existing file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment file {path} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    unknown = set(raw) - set(TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key {sorted(unknown)[0]!r}; expected one of {', '.join(TOP_KEYS)}"
        )
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{origin}: name must be a non-empty string; got {name!r}")
    if "base" in raw:
        if not isinstance(raw["base"], str):
            raise ConfigError(f"{origin}: base must be a path string; got {raw['base']!r}")
        base = load_config(path.parent / raw["base"])
    else:
        base = Config(name=_slug(name))
    seeds = raw.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= 1000:
            raise ConfigError(
                f"{origin}: seeds must be a count in [1, 1000] or a list; got {seeds}"
            )
        seeds = list(range(seeds))
    if (
        not isinstance(seeds, list)
        or not seeds
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise ConfigError(
            f"{origin}: seeds must be a count or a list of distinct integers >= 0; got {seeds!r}"
        )
    overrides = _flatten(origin, "overrides", raw.get("overrides", {}))

    variants: list[Variant] = []
    listed = raw.get("variants", [])
    if not isinstance(listed, list):
        raise ConfigError(f"{origin}: variants must be an array of tables ([[variants]])")
    if "variants" in raw and not listed:
        raise ConfigError(
            f"{origin}: variants is empty; add [[variants]] tables, or drop the key to run the "
            "base config alone"
        )
    for i, item in enumerate(listed):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"{origin}: variants[{i}] needs a non-empty name")
        body = {k: v for k, v in item.items() if k != "name"}
        variants.append(Variant(item["name"], _flatten(origin, f"variants[{i}]", body)))
    if "grid" in raw:
        grid = _flatten(origin, "grid", raw["grid"])
        if not grid:
            raise ConfigError(f"{origin}: [grid] is empty; give it at least one key with a list")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{origin}: grid {key} must be a non-empty list; got {values!r}")
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            label = ", ".join(
                f"{k.split('.')[1]}={_label(v)}" for k, v in zip(keys, combo, strict=True)
            )
            variants.append(Variant(label, dict(zip(keys, combo, strict=True))))
    if not variants:
        variants.append(Variant("base", {}))
    names = [v.name for v in variants]
    slugs = [_slug(n) for n in names]
    for n, slug in zip(names, slugs, strict=True):
        if slug in RESERVED:
            raise ConfigError(f"{origin}: variant name {n!r} is reserved for the sweep's own files")
    if len(set(slugs)) != len(slugs):
        dup = next(n for n, s in zip(names, slugs, strict=True) if slugs.count(s) > 1)
        raise ConfigError(f"{origin}: two variants share the name (or directory) of {dup!r}")
    experiment = Experiment(name, path, base, overrides, tuple(variants), tuple(seeds))
    for v in variants:  # validate every variant now, not hours into a sweep
        resolve(experiment, v, seeds[0])
    return experiment


def resolve(experiment: Experiment, variant: Variant, seed: int) -> Config:
    """The full config of one run: base, then overrides, then the variant, then the seed."""
    raw: dict[str, Any] = experiment.base.to_dict()
    raw["name"] = _slug(variant.name).replace("+", "p")
    for dotted, value in {**experiment.overrides, **variant.overrides}.items():
        section, _, key = dotted.partition(".")
        if key not in raw[section]:
            raise ConfigError(
                f"{experiment.path}: variant {variant.name!r}: unknown key {dotted}; expected one "
                f"of {', '.join(raw[section])}"
            )
        raw[section][key] = value
    raw["training"]["seed"] = seed
    return config_from_dict(raw, origin=f"{experiment.path}: variant {variant.name!r}")


def plan(experiment: Experiment, out_dir: str | Path) -> list[RunSpec]:
    """Every run of the experiment, variant by variant, seed by seed."""
    out_dir = Path(out_dir).resolve()  # absolute: Dask workers may run in other directories
    return [
        RunSpec(v.name, seed, resolve(experiment, v, seed), out_dir / _slug(v.name) / f"seed{seed}")
        for v in experiment.variants
        for seed in experiment.seeds
    ]


RUN_FILES = ("model.npz", "history.csv", "config.toml", "metrics.json")
SUMMARY_KEYS = ("test_accuracy", "test_loss", "val_accuracy", "best_epoch", "train_seconds")


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's metrics.json when all four files exist and it has every summary key, else None."""
    if not all((run_dir / name).is_file() for name in RUN_FILES):
        return None
    try:
        summary = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or not all(
        isinstance(summary.get(k), int | float) for k in SUMMARY_KEYS
    ):
        return None
    return summary


def is_finished(spec: RunSpec, device: str = "cpu", blas_threads: int = 1) -> bool:
    """True when the run's files are complete and belong to this config and these settings.

    Raises OutputExistsError when the directory holds a finished run of another config, device or
    BLAS thread count (numbers from those differ, so they are never mixed into one table).
    """
    summary = read_summary(spec.run_dir)
    if summary is None:
        return False
    try:
        same = (spec.run_dir / "config.toml").read_text() == spec.config.to_toml()
    except OSError:
        return False
    settings = (summary.get("device"), summary.get("blas_threads"))
    wanted = (_device_name(device) or settings[0], blas_threads)  # "auto" accepts either device
    if not same or settings != wanted:
        raise OutputExistsError(
            f"{spec.run_dir} holds a finished run of a different config or settings "
            f"(device, BLAS threads: {settings}); choose another --out, or delete that directory"
        )
    return True


def _device_name(device: str) -> str | None:
    return {"cuda": "cuda:0", "auto": None}.get(device, device)


def run_one(spec: RunSpec, device: str = "cpu", blas_threads: int | None = None) -> dict[str, Any]:
    """Train one run and write its directory; returns its summary (metrics.json).

    `blas_threads` is applied with threadpoolctl when it is installed (the dask extra); the local
    executor sets it through the environment of its worker processes instead.
    """
    from .runs import write_run
    from .train import train

    if blas_threads:
        _limit_blas_threads(blas_threads)
    try:
        result = train(spec.config, device=device)
    except NetlabError as exc:  # say which run failed, keep the error's type and exit code
        raise type(exc)(f"run {spec.variant!r} seed {spec.seed}: {exc}") from None
    extra = {"variant": spec.variant, "blas_threads": blas_threads}
    paths = write_run(spec.run_dir, result, force=True, extra=extra)  # leftovers of a killed try
    return paths["summary"]


def _limit_blas_threads(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the env vars set by the local executor do the job there
        return
    threadpool_limits(n)


# --------------------------------------------------------------------------- results


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def collect(experiment: Experiment, specs: list[RunSpec]) -> list[dict[str, Any]]:
    """Per variant: mean and std over seeds of the finished runs' summaries."""
    rows = []
    for v in experiment.variants:
        summaries = [
            summary
            for spec in specs
            if spec.variant == v.name and (summary := read_summary(spec.run_dir)) is not None
        ]
        row: dict[str, Any] = {"variant": v.name, "seeds": len(summaries)}
        for key in ("test_accuracy", "test_loss", "val_accuracy", "best_epoch", "train_seconds"):
            mean, std = _mean_std([float(s[key]) for s in summaries])
            row[f"{key}_mean"], row[f"{key}_std"] = mean, std
        rows.append(row)
    return rows


COLUMNS = (
    ("variant", "variant"),
    ("seeds", "seeds"),
    ("test_accuracy", "test accuracy (%)"),
    ("test_loss", "test loss"),
    ("val_accuracy", "validation accuracy (%)"),
    ("best_epoch", "best epoch (by validation)"),
    ("train_seconds", "training time (s)"),
)


def results_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = ["variant", "seeds"] + [f"{k}_{s}" for k, _ in COLUMNS[2:] for s in ("mean", "std")]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def results_markdown(experiment: Experiment, rows: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], key: str) -> str:
        mean, std = row[f"{key}_mean"], row[f"{key}_std"]
        if math.isnan(mean):
            return "—"
        scale, fmt = (100.0, ".2f") if key.endswith("accuracy") else (1.0, ".4g")
        if key in ("best_epoch", "train_seconds"):
            fmt = ".1f"
        return f"{mean * scale:{fmt}} ± {std * scale:{fmt}}"

    head = [title for _, title in COLUMNS]
    lines = [
        f"# {experiment.name}",
        "",
        f"Mean ± standard deviation over seeds {list(experiment.seeds)}; test figures are those of "
        "the epoch selected on the validation split, with its weights restored.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        name = row["variant"].replace("|", "\\|")
        cells = [name, str(row["seeds"])] + [cell(row, k) for k, _ in COLUMNS[2:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def estimated_cost(config: Config, n_train: int = 48_000) -> float:
    """A rough relative cost of a run (seconds on one core of this project's CPU machine): per
    epoch, a per-step overhead plus the multiply-adds. Used to start the longest runs first."""
    sizes = [784, *config.model.hidden, 10]
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    steps = math.ceil(n_train / config.training.batch_size)
    return config.training.epochs * (steps * 150e-6 + 1.25 * n_train * params * 6 / 45e9)


def execute(
    specs: list[RunSpec],
    *,
    workers: int = 1,
    scheduler: Any = None,
    device: str = "cpu",
    blas_threads: int = 1,
    on_done: Any = None,
) -> tuple[list[RunSpec], list[str]]:
    """Run the unfinished runs among `specs`, longest first; returns (the runs it started, the
    failures, one line each)."""
    from .executors import run_dask, run_local

    if not isinstance(workers, int) or not 1 <= workers <= 256:
        raise ConfigError(f"--workers must be an integer in [1, 256]; got {workers!r}")
    if not isinstance(blas_threads, int) or not 1 <= blas_threads <= 256:
        raise ConfigError(f"--blas-threads must be an integer in [1, 256]; got {blas_threads!r}")
    todo = [s for s in specs if not is_finished(s, device, blas_threads)]
    todo.sort(key=lambda s: -estimated_cost(s.config))  # stable: plan order among equals
    failures: list[str] = []
    if todo:
        if scheduler is not None:
            failures = run_dask(todo, scheduler, device, on_done, blas_threads)
        else:
            failures = run_local(todo, workers, device, on_done, blas_threads)
    return todo, failures


def write_results(experiment: Experiment, specs: list[RunSpec], out_dir: str | Path) -> dict:
    """OUT/results.csv and OUT/results.md from the finished runs; returns rows and paths."""
    from .io import atomic_write

    out_dir = Path(out_dir)
    rows = collect(experiment, specs)
    paths = {"csv": out_dir / "results.csv", "markdown": out_dir / "results.md"}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(paths["csv"], lambda f: f.write(results_csv(rows).encode()), force=True)
    text = results_markdown(experiment, rows)
    atomic_write(paths["markdown"], lambda f: f.write(text.encode()), force=True)
    return {"rows": rows, **paths}


def failed_runs_error(failures: list[str], ran: int, where: Path) -> NetlabError:
    return NetlabError(
        f"{len(failures)} of {ran} runs failed ({'; '.join(failures)}); the table in "
        f"{where} holds the others, and a re-run retries only the failed ones"
    )


def run_experiment(
    experiment: Experiment,
    out_dir: str | Path,
    *,
    workers: int = 1,
    scheduler: Any = None,
    device: str = "cpu",
    blas_threads: int = 1,
    on_done: Any = None,
) -> dict[str, Any]:
    """Run every unfinished run, then write OUT/results.csv and OUT/results.md.

    Returns {"rows", "ran", "skipped", "csv", "markdown"}. `on_done(spec, summary)` is called after
    each run finishes (in this process).
    """
    out_dir = Path(out_dir)
    specs = plan(experiment, out_dir)
    todo, failures = execute(
        specs,
        workers=workers,
        scheduler=scheduler,
        device=device,
        blas_threads=blas_threads,
        on_done=on_done,
    )
    result = write_results(experiment, specs, out_dir)
    if failures:
        raise failed_runs_error(failures, len(todo), result["markdown"])
    return {**result, "ran": len(todo), "skipped": len(specs) - len(todo)}
