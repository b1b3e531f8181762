"""`netlab gradcheck`: backprop vs central differences in float64, per parameter tensor."""

from __future__ import annotations

from typing import Any

import typer

from . import options
from .ui import console, print_json, table

Activation = typer.Option("tanh", "--activation", help=options.activation_help())
Sizes = typer.Option("784,50,50,10", "--sizes", help="All layer sizes, input to output.")
LeakySlope = typer.Option(
    0.01, "--leaky-slope", help="Negative slope of leaky_relu (0 <= slope < 1)."
)
Init = typer.Option(
    None, "--init", help="normal, xavier or he (default xavier; normal with --paper)."
)
L2 = typer.Option(0.0, "--l2", help="L2 strength (its gradient 2*l2*W is checked too).")
Eps = typer.Option(None, "--eps", help="Central-difference step (default 1e-6; 1e-2 with --paper).")
LossNorm = typer.Option("batch", "--loss-norm", help="batch or classes_batch.")
MaxEntries = typer.Option(
    200,
    "--max-entries",
    help="Entries checked per tensor; larger tensors are sampled (0 = all).",
)
Seed = typer.Option(0, "--seed", help="Seed of the initial weights.")
Data = typer.Option(
    "sample", "--data", help="Where the 10 images come from: sample, fashion-mnist or mnist."
)
Paper = typer.Option(
    False, "--paper", help="The study's protocol: eps 1e-2, N(0,1) init, its Figure 3 entries."
)


def gradcheck(
    activation: str = Activation,
    sizes: str = Sizes,
    leaky_slope: float = LeakySlope,
    init: str = Init,
    l2: float = L2,
    eps: float = Eps,
    loss_norm: str = LossNorm,
    max_entries: int = MaxEntries,
    seed: int = Seed,
    device: str = options.Device,
    data: str = Data,
    data_dir: str = options.DataDir,
    paper: bool = Paper,
    json_out: bool = options.Json,
) -> int:
    """Compare backprop gradients with numerical ones; exit 1 if any tensor fails."""
    from netlab.training.gradcheck import check_model

    layer_sizes = list(options.parse_ints(sizes, "--sizes"))
    report = check_model(
        layer_sizes,
        activation,
        leaky_slope=leaky_slope,
        init=init or ("normal" if paper else "xavier"),
        l2=l2,
        eps=eps if eps is not None else (1e-2 if paper else 1e-6),
        loss_norm=loss_norm,
        max_entries=max_entries,
        seed=seed,
        device=device,
        source=data,
        data_dir=data_dir,
        paper=paper,
    )
    if json_out:
        print_json(report.to_dict())
    elif paper:
        _print_entries(report)
    else:
        _print_tensors(report)
    return 0 if report.passed else 1


def _print_entries(report: Any) -> None:
    """The --paper table: the study's Figure 3 entries, then the O(eps^2) verdict. Differences
    show only the digits above the float64 rounding of the central difference."""
    from netlab.training.gradcheck_paper import to_resolution

    console.print(
        table(
            f"Numerical approximation (eps = {report.epsilon:g}, "
            f"{report.settings['examples']} examples, "
            "one per class; difference = numeric - backprop)",
            [
                "Layers",
                "Weights/bias",
                "netlab param",
                "Backprop",
                "Numeric",
                "Difference",
                "Study's difference",
            ],
            [
                [
                    e.layer,
                    e.entry,
                    f"{e.parameter}{list(e.index)}",
                    f"{e.analytic:.6e}",
                    f"{e.numeric:.6e}",
                    to_resolution(e.difference, e.resolution),
                    f"{e.study_difference:.2e}",
                ]
                for e in report.entries
            ],
        )
    )
    verdict = "PASS" if report.passed else "FAIL"
    console.print(
        f"{verdict}: every |difference| <= eps^2 = {report.tolerance:g} "
        "(the study's O(eps^2) claim)"
    )


def _print_tensors(report: Any) -> None:
    """One row per parameter tensor, then the verdict against TOLERANCE."""
    from netlab.training.gradcheck import TOLERANCE

    s = report.settings
    console.print(
        table(
            f"Gradient check: {'-'.join(map(str, s['sizes']))} {s['activation']}, "
            f"l2 {s['l2']:g}, "
            f"eps {report.epsilon:g}, float64, {s['examples']} examples",
            [
                "tensor",
                "shape",
                "checked",
                "max |analytic|",
                "max |numeric|",
                "max abs diff",
                "rel error",
                "result",
            ],
            [
                [
                    t.parameter,
                    "x".join(map(str, t.shape)),
                    t.checked,
                    f"{t.analytic_max:.3e}",
                    f"{t.numeric_max:.3e}",
                    f"{t.abs_diff:.3e}",
                    f"{t.rel_error:.3e}",
                    "PASS" if t.passed else "FAIL",
                ]
                for t in report.tensors
            ],
        )
    )
    verdict = "PASS" if report.passed else "FAIL"
    console.print(
        f"{verdict}: max relative error {report.max_rel_error:.3e} (tolerance {TOLERANCE:g}; "
        "relative error = max|a-n| / max(max|a|, max|n|, 1e-7) per tensor)"
    )
