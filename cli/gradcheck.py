"""`netlab gradcheck`: backprop vs central differences in float64, per parameter tensor."""

from __future__ import annotations

import typer

from . import options
from .ui import console, print_json, table


def gradcheck(
    activation: str = typer.Option("tanh", "--activation", help=options.activation_help()),
    sizes: str = typer.Option("784,50,50,10", "--sizes", help="All layer sizes, input to output."),
    leaky_slope: float = typer.Option(
        0.01, "--leaky-slope", help="Negative slope of leaky_relu (0 <= slope < 1)."
    ),
    init: str = typer.Option(
        None, "--init", help="normal, xavier or he (default xavier; normal with --paper)."
    ),
    l2: float = typer.Option(0.0, "--l2", help="L2 strength (its gradient 2*l2*W is checked too)."),
    eps: float = typer.Option(
        None, "--eps", help="Central-difference step (default 1e-6; 1e-2 with --paper)."
    ),
    loss_norm: str = typer.Option("batch", "--loss-norm", help="batch or classes_batch."),
    max_entries: int = typer.Option(
        200,
        "--max-entries",
        help="Entries checked per tensor; larger tensors are sampled (0 = all).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial weights."),
    device: str = options.Device,
    data: str = typer.Option(
        "sample", "--data", help="Where the 10 images come from: sample, fashion-mnist or mnist."
    ),
    data_dir: str = options.DataDir,
    paper: bool = typer.Option(
        False, "--paper", help="The study's protocol: eps 1e-2, N(0,1) init, its Figure 3 entries."
    ),
    json_out: bool = options.Json,
) -> int:
    """Compare backprop gradients with numerical ones; exit 1 if any tensor fails."""
    from ..training.gradcheck import TOLERANCE, check_model

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
                        f"{e.difference:.2e}",
                        f"{e.study_difference:.2e}",
                    ]
                    for e in report.entries
                ],
            )
        )
    else:
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
    if paper and not json_out:
        verdict = "PASS" if report.passed else "FAIL"
        console.print(
            f"{verdict}: every |difference| <= eps^2 = {report.tolerance:g} "
            "(the study's O(eps^2) claim)"
        )
    return 0 if report.passed else 1
