"""The report's numbers that are not read off a run but computed (the Figure 3 gradient check, the
first layer's saturation at initialization): measured once by `netlab reproduce`, archived with
the environment that produced them, and rendered from the archive, so `--report-only` computes
nothing whose last digits depend on the CPU or its BLAS kernels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import ConfigError

MEASUREMENTS = "measurements.json"
INITS = ("normal", "xavier")  # the two protocols' initializations


def measure(seeds: list[int]) -> dict[str, Any]:
    """Run the study's gradient check and the initial-saturation measurement on this machine."""
    from ...training.gradcheck import check_model
    from .archive import environment, init_saturation, sample_inputs

    grad = check_model([784, 50, 50, 10], "tanh", init="normal", eps=1e-2, paper=True)
    pixels = sample_inputs()
    return {
        "environment": environment(),
        "gradcheck": {
            "epsilon": grad.epsilon,
            "tolerance": grad.tolerance,
            "entries": grad.to_dict()["entries"],
        },
        "init_saturation": {
            "seeds": list(seeds),
            **{init: init_saturation(init, list(seeds), pixels) for init in INITS},
        },
    }


def write_measurements(dest: Path, seeds: list[int]) -> dict[str, Any]:
    """Measure and write dest/measurements.json (replacing an earlier measurement)."""
    from ...files.atomic import atomic_write

    measured = measure(seeds)
    text = json.dumps(measured, indent=1) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write(dest / MEASUREMENTS, lambda f: f.write(text.encode()), force=True)
    return measured


def read_measurements(dest: Path) -> dict[str, Any]:
    """The archived measurements; a ConfigError naming the fix when missing or damaged."""
    path = dest / MEASUREMENTS
    fix = (
        "run `netlab reproduce` once without --report-only (it reuses finished runs and "
        "measures them again)"
    )
    try:
        measured = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; {fix}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}); {fix}") from None
    try:
        entries = measured["gradcheck"]["entries"]
        ok = isinstance(entries, list) and all(i in measured["init_saturation"] for i in INITS)
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise ConfigError(f"{path} lacks the gradcheck entries or the saturation shares; {fix}")
    return measured
