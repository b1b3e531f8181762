"""An experiment's results: per variant, mean and std over seeds, as CSV and Markdown."""

from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

from .files import Experiment
from .plan import RunSpec, read_summary


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


def write_results(experiment: Experiment, specs: list[RunSpec], out_dir: str | Path) -> dict:
    """OUT/results.csv and OUT/results.md from the finished runs; returns rows and paths."""
    from ..files.atomic import atomic_write

    out_dir = Path(out_dir)
    rows = collect(experiment, specs)
    paths = {"csv": out_dir / "results.csv", "markdown": out_dir / "results.md"}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(paths["csv"], lambda f: f.write(results_csv(rows).encode()), force=True)
    text = results_markdown(experiment, rows)
    atomic_write(paths["markdown"], lambda f: f.write(text.encode()), force=True)
    return {"rows": rows, **paths}
