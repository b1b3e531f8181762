"""docs/reproduction.md: the study's Figure 1 beside netlab's numbers with the statistics of every
comparison, the findings, every experiment's table and figures, and the Figure 3 gradient check.
Rendered from the archive of the runs (results.py), so it can be regenerated without training."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..files import resolve
from . import findings as F
from .plan import EXPERIMENTS, FIGURE1, PROTOCOLS, Study, reference_of
from .results import Results, mean_std

PROTOCOL_TEXT = (
    "Two protocols. **Paper**: the study's settings as it describes them: 784-50-50-10 tanh, "
    "weights and biases drawn from N(0, 1), inputs /255 then standardized, SGD with momentum 0.9, "
    "lr 1.2e-2, batch 128, 100 epochs, mean cross-entropy over the batch "
    "(`configs/paper/baseline.toml`). **Corrected**: the same, with Xavier initialization (He for "
    "ReLU and leaky ReLU) and zero biases (`configs/baseline.toml`)."
)
SHA256 = {  # the official files, decompressed; every run's metrics.json says whether its data match
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def render_report(
    study: Study,
    results: Results,
    figures: dict,
    report: Path,
    invocations: list[dict[str, Any]],
    measured: dict[str, Any],
) -> str:
    """The whole report as Markdown; every number read from `results` and the archived
    `measured` (measurements.py), none computed here."""
    saturation = measured["init_saturation"]
    lines = header(study, results, invocations)
    lines += figure1(results, study)
    lines += ["## What the runs say, and how sure they are", ""]
    lines += F.baseline(results, saturation)
    lines += [
        "**L2 regularization under each reading of the study's loss.** The study's loss "
        "is either the batch mean or divided by classes × batch (its text says the "
        "latter); under the second the data gradient is 10× smaller while 2λW is not, so "
        "L2 acts 10× stronger. Its reported loss may or may not include the penalty "
        "λΣw² (`netlab eval --l2-penalty` computes both; Σw² of each run's saved weights "
        "is in its weights.json).",
        "",
    ]
    for protocol in PROTOCOLS:
        lines += [f"*{protocol.capitalize()} protocol:*", ""] + F.l2_table(results, protocol)
    lines += F.l2_readings(results)
    lines += F.relu_batch1(results) + F.relu_batch128(results)
    lines += F.sweet_spot(results, "topology", "width") + F.sweet_spot(results, "depth", "depth")
    lines += experiments(study, results, figures, report)
    lines += gradcheck_section(measured)
    return "\n".join(lines) + "\n"


def header(study: Study, results: Results, invocations: list[dict[str, Any]]) -> list[str]:
    n_runs = sum(len(v) for g in results.records.values() for v in g.values())
    ok = [
        r.summary.get("data_checksums_ok")
        for g in results.records.values()
        for v in g.values()
        for r in v
    ]
    lines = [
        "# The study, reproduced",
        "",
        "Written by `netlab reproduce` from the archive of its runs in "
        "[`reproduction/runs/`](reproduction/runs/) (each run's metrics.json, history.csv, "
        "config.toml and weights.json); `netlab reproduce --report-only` regenerates this page, "
        "its tables and figures from them without training. The study is *Multi-Layer Neural "
        "Network Classification of Fashion MNIST Dataset* (its text is not part of this "
        "repository).",
        "",
        f"- {PROTOCOL_TEXT}",
        f"- Seeds {results.seeds} for every variant ({n_runs} runs in the eight experiment "
        "files; runs identical but for their name are trained once and copied). A seed draws "
        "the split (48,000 training and 12,000 validation images, stratified by class, "
        "different for every seed), the initial weights and the batch order. The epoch with "
        "the highest **validation** accuracy is selected and its weights restored; **test** "
        "accuracy (10,000 images) is never used to choose anything.",
        "- Data: the official Fashion-MNIST files (SHA-256 of the decompressed files: "
        + ", ".join(f"{k} `{v[:12]}…`" for k, v in SHA256.items())
        + f"); {sum(1 for x in ok if x)} of {len(ok)} runs report matching checksums.",
    ]
    for inv in invocations:
        env = ", ".join(
            f"{k} {inv[k]}" for k in ("python", "numpy", "blas", "machine") if inv.get(k)
        )
        lines.append(
            f"- Trained by `{inv['command']}` (started {inv['started']}): {inv['trained']} runs"
            + (f" ({inv['failed']} failed)" if inv["failed"] else "")
            + f" in {inv['seconds'] / 3600:.2f} h of wall time"
            + (f", code at git commit {inv['git_commit']}" if inv.get("git_commit") else "")
            + (f"; {env}" if env else "")
            + (f" ({inv['note']})" if isinstance(inv.get("note"), str) else "")
            + "."
        )
    if not invocations:
        lines.append("- (no record of the invocations that trained these runs)")
    lines += [
        "- **How to read a verdict.** Each variant is compared with the study's baseline of its "
        "experiment (for the L2 sweep under the study's literal loss, with λ = 0 under the same "
        "loss): the difference of mean validation accuracies in points with its 95% confidence "
        "interval (Welch's t, unequal variances). *better* / *worse*: the interval lies above / "
        "below zero; *no difference detectable with N seeds*: it contains zero. Rankings use "
        "validation accuracy only; test accuracy is shown beside it.",
        "",
    ]
    return lines


def figure1(results: Results, study: Study) -> list[str]:
    lines = [
        "## The study's Figure 1, side by side",
        "",
        "| experiment | study: test accuracy | study: test loss | paper: validation (%) | "
        "paper: test (%) | paper: Δ validation vs baseline [95% CI] | paper: verdict | "
        "corrected: validation (%) | corrected: test (%) | corrected: Δ validation vs baseline "
        "[95% CI] | corrected: verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, loss, acc, exp_name, variant in FIGURE1:
        cells = [label, f"{acc:.2f}%", f"{loss:.2f}"]
        for protocol in PROTOCOLS:
            mark = shortened(study, results, protocol, exp_name, variant)
            val = results.values(protocol, exp_name, variant, "val_accuracy")
            test = results.values(protocol, exp_name, variant, "test_accuracy")
            is_ref = reference_of(exp_name, variant) == variant
            c = F.compare(results, protocol, exp_name, variant)
            cells += [
                F.pts(val) + mark,
                F.pts(test) + mark,
                "baseline" if is_ref else F.ci(c),
                "—" if is_ref else c.verdict,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "The study reports one number per row (no seeds, no spread); netlab's cells are mean ± "
        "standard deviation over the seeds. Rows that name the same training (λ = 0, Tanh, "
        "50 × 50 and 2 layers are all the baseline) show the same runs."
        + (
            " † marks runs shorter than the study's 100 epochs (`--batch1-epochs`)."
            if any(shortened(study, results, p, e, v) for p in PROTOCOLS for *_, e, v in FIGURE1)
            else ""
        ),
        "",
    ]
    return lines


def shortened(study: Study, results: Results, protocol: str, experiment: str, variant: str) -> str:
    """' †' when the variant's runs ran fewer epochs than its experiment file asks for and did not
    stop early (runs capped by --batch1-epochs), else ''."""
    exp = study.experiments[protocol, experiment]
    v = next((x for x in exp.variants if x.name == variant), None)
    if v is None:
        return ""
    planned = resolve(exp, v, exp.seeds[0]).training.epochs
    runs = results.runs(protocol, experiment, variant)
    cut = any(len(r.history) < planned and not r.summary.get("stopped_early") for r in runs)
    return " †" if cut else ""


def experiments(study: Study, results: Results, figures: dict, report: Path) -> list[str]:
    lines = ["## Every experiment", ""]
    for name in EXPERIMENTS:
        for protocol in PROTOCOLS:
            exp = study.experiments[protocol, name]
            lines += [
                f"### {name}, {protocol} protocol",
                "",
                f"`netlab experiment {exp.path.as_posix()}` runs this table alone.",
                "",
                "| variant | seeds | validation accuracy (%) | test accuracy (%) | test loss "
                "| best epoch | Δ validation vs reference [95% CI] | verdict |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for v in exp.variants:
                runs = results.runs(protocol, name, v.name)
                ref = reference_of(name, v.name)
                c = F.compare(results, protocol, name, v.name)
                mark = shortened(study, results, protocol, name, v.name)
                val = F.pts([r.get("val_accuracy") for r in runs])
                lines.append(
                    f"| {v.name}{mark} | {len(runs)} | {val} "
                    f"| {F.pts([r.get('test_accuracy') for r in runs])} | "
                    f"{mean_std([r.get('test_loss') for r in runs], 1, '.3f')} | "
                    f"{mean_std([r.get('best_epoch') for r in runs], 1, '.0f')} | "
                    + (
                        "reference | — |"
                        if ref == v.name
                        else f"{F.ci(c)} vs {ref} | {c.verdict} |"
                    )
                )
            lines.append("")
            for figure in figures.get((protocol, name), []):
                if isinstance(figure, Path):
                    rel = (
                        figure.relative_to(report.parent)
                        if figure.is_relative_to(report.parent)
                        else figure
                    )
                    lines += [f"![{name}, {protocol} protocol]({rel.as_posix()})", ""]
                else:
                    lines += [f"(no figure: {figure})", ""]
    return lines


def gradcheck_section(measured: dict[str, Any]) -> list[str]:
    """Figure 3 from the archived check; differences shown to their rounding resolution."""
    from ...training.gradcheck_paper import to_resolution

    grad, env = measured["gradcheck"], measured["environment"]
    lines = [
        "## The study's Figure 3: gradient check",
        "",
        "`netlab gradcheck --paper`: the same seven entries, the study's ε = 1e-2, 10 training "
        "images (the first of each class), 784-50-50-10 tanh with N(0, 1) weights and biases, "
        "float64; difference = numerical − backprop, shown with the digits that stand above the "
        "rounding of the central difference (16 ulps of the loss / 2ε; other CPUs and BLAS "
        f"kernels change the digits below it). Measured on {env.get('cpu', '?')}, NumPy "
        f"{env.get('numpy', '?')} ({env.get('blas', '?')}), commit {env.get('git_commit')}.",
        "",
        "| layer | weight/bias | netlab parameter | backprop | numerical | difference | "
        "study's difference |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in grad["entries"]:
        lines.append(
            f"| {e['layer']} | {e['entry']} | {e['parameter']}{list(e['index'])} | "
            f"{e['analytic']:.6e} | {e['numeric']:.6e} | "
            f"{to_resolution(e['difference'], e['resolution'])} | "
            f"{e['study_difference']:.2e} |"
        )
    worst = max(abs(e["difference"]) for e in grad["entries"])
    lines += [
        "",
        f"Every |difference| is at most {worst:.1e}, within ε² = {grad['tolerance']:g} as the "
        "study claims. ε = 1e-2 is coarse: `netlab gradcheck` (ε = 1e-6, every tensor, relative "
        "error) is the check netlab's tests run for every activation.",
        "",
    ]
    return lines


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]
