"""docs/reproduction.md: the study's Figure 1 beside netlab's numbers, the findings, every
experiment's table and figure, and the Figure 3 gradient check."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np

from ..files import slug
from .findings import _findings
from .plan import EXPERIMENTS, FIGURE1, PROTOCOLS, Study
from .tables import _cpu_count, _pm, _row, _shown


def render_report(
    study: Study,
    tables: dict,
    figures: dict,
    report: Path,
    run_info: dict[str, Any],
) -> str:
    """docs/reproduction.md: every number read from the runs under study.out_dir."""
    from ... import __version__
    from ...training.gradcheck import check_model

    cap = study.batch1_epochs
    lines: list[str] = []
    add = lines.append
    exp_paper = study.experiments["paper", "regularization"]
    seeds = list(exp_paper.seeds)
    add("# The study, reproduced")
    add("")
    add(
        "Written by `netlab reproduce` from the runs under "
        f"`{_shown(study.out_dir)}`; every number below is read from those runs (the command "
        "below regenerates it). The study is *Multi-Layer Neural Network Classification of "
        "Fashion MNIST Dataset* (`../shared/paper.txt` in this project)."
    )
    add("")
    add(
        f"- {run_info['unique']} distinct trainings ({run_info['planned']} runs in the eight "
        "experiment files; runs identical but for their name are trained once and copied), on "
        f"device {run_info['device']} with {run_info['blas_threads']} BLAS thread(s) per run. "
        "Trained by:"
    )
    for inv in run_info["invocations"]:
        add(
            f"  - `{inv['command']}`, started {inv['started']}: {inv['trained']} runs"
            + (f" ({inv['failed']} failed)" if inv["failed"] else "")
            + f" in {inv['seconds'] / 60:.1f} minutes of wall time."
        )
    if not run_info["invocations"]:
        add("  - (no record of the invocations that trained these runs)")
    add(
        f"- Machine: {platform.machine()}, {_cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, NumPy {np.__version__}, netlab {__version__}."
    )
    add(
        f"- Seeds {seeds} for every variant; numbers are mean ± standard deviation over them. The "
        "epoch with the highest **validation** accuracy is selected and its weights restored; "
        "all accuracies and losses in the tables are on the **test** split (10,000 images) unless "
        "a column says validation."
    )
    add(
        "- Two protocols. **Paper**: the study's settings as it describes them: 784-50-50-10, "
        "weights and biases drawn from N(0, 1), inputs /255 then standardized, SGD with momentum "
        "0.9, lr 1.2e-2, batch 128, 100 epochs, mean cross-entropy over the batch "
        "(`configs/paper/baseline.toml`). **Corrected**: the same, with Xavier initialization "
        "(He for ReLU and leaky ReLU) and zero biases (`configs/baseline.toml`)."
    )
    add(
        "- Where the study's description is ambiguous (loss normalization, input "
        'standardization, which epoch is "best"), the reading was settled by runs: '
        "docs/results.md, *Readings of the study's protocol*."
    )
    if cap:
        add(
            f"- **Batch-1 runs are shortened.** The study trained ReLU and leaky ReLU at lr 1.2e-4 "
            "with batch 1: 48,000 updates per epoch, 9–11 s per epoch on one core here, "
            "15–18 minutes per 100-epoch run. To fit the whole study in under an hour on two "
            f"cores, `netlab reproduce` runs those variants for {cap} epochs "
            f"({cap * 48_000:,} updates, {cap * 48_000 / 37_500:.0f}x the baseline's 37,500); "
            "every number they give is marked †. `netlab reproduce --batch1-epochs 0` runs them "
            "at full length."
        )
    add("")

    # ---- Figure 1
    add("## The study's Figure 1, side by side")
    add("")
    add(
        "| experiment | study: test loss | study: test accuracy | netlab paper protocol: test "
        "accuracy (%) | test loss | netlab corrected protocol: test accuracy (%) | test loss |"
    )
    add("|---|---|---|---|---|---|---|")
    for label, loss, acc, exp_name, variant in FIGURE1:
        cells = [label, f"{loss:.2f}", f"{acc:.2f}%"]
        for protocol in PROTOCOLS:
            row = _row(tables, (protocol, exp_name), variant)
            mark = " †" if cap and "batch 1" in variant else ""
            cells += [_pm(row, "test_accuracy", 100.0) + mark, _pm(row, "test_loss", 1.0, ".3f")]
        add("| " + " | ".join(cells) + " |")
    add("")
    add(
        "The study reports one number per row (no seeds or spread); netlab's cells are mean ± "
        f"std over {len(seeds)} seeds. Rows that name the same training (λ = 0, Tanh, 50 × 50 "
        "and 2 layers are all the baseline) show the same runs."
    )
    add("")

    # ---- Findings
    add("## Where netlab and the study disagree, and why")
    add("")
    lines.extend(_findings(study, tables))

    # ---- Experiments
    add("## Every experiment")
    add("")
    for name in EXPERIMENTS:
        for protocol in PROTOCOLS:
            key = (protocol, name)
            exp = study.experiments[key]
            add(f"### {name}, {protocol} protocol")
            add("")
            add(
                f"`netlab experiment {_shown(exp.path)}` runs this table alone; its runs are in "
                f"`{_shown(study.out_dir / slug(exp.name))}/`."
            )
            add("")
            table = Path(tables[key]["markdown"]).read_text().splitlines()
            start = next(i for i, line in enumerate(table) if line.startswith("|"))
            for line in table[start:]:
                if cap and "batch 1" in line and line.startswith("| "):
                    line = line.replace(" |", " † |", 1)
                add(line)
            add("")
            figure = figures.get(key)
            if isinstance(figure, Path):
                rel = (
                    figure.relative_to(report.parent)
                    if figure.is_relative_to(report.parent)
                    else figure
                )
                add(f"![{name}, {protocol} protocol]({rel.as_posix()})")
            else:
                add(f"(no figure: {figure})")
            add("")

    # ---- Figure 3
    add("## The study's Figure 3: gradient check")
    add("")
    grad = check_model([784, 50, 50, 10], "tanh", init="normal", eps=1e-2, paper=True)
    add(
        "`netlab gradcheck --paper`: the same seven entries, the study's ε = 1e-2, 10 training "
        "images (the first of each class), 784-50-50-10 tanh with N(0, 1) weights and biases, "
        "float64; difference = numerical − backprop."
    )
    add("")
    add(
        "| layer | weight/bias | netlab parameter | backprop | numerical | difference | "
        "study's difference |"
    )
    add("|---|---|---|---|---|---|---|")
    for e in grad.entries:
        add(
            f"| {e.layer} | {e.entry} | {e.parameter}{list(e.index)} | {e.analytic:.6e} | "
            f"{e.numeric:.6e} | {e.difference:.2e} | {e.study_difference:.2e} |"
        )
    worst = max(abs(e.difference) for e in grad.entries)
    add("")
    add(
        f"Every |difference| is at most {worst:.1e}, within ε² = {grad.tolerance:g} as the study "
        "claims. ε = 1e-2 is coarse: `netlab gradcheck` (ε = 1e-6, every tensor, relative error) "
        "is the check netlab's tests run for every activation."
    )
    add("")
    return "\n".join(lines) + "\n"
