"""The study's evidence, small enough to commit: each run's metrics.json, history.csv, config.toml
and weights.json (measurements of its saved weights), plus the invocation log and the environment,
copied from the run directories into the report's folder. The report renders from this archive,
so `netlab reproduce --report-only` regenerates every number, table and figure without training."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from ..files import slug
from ..plan import read_summary
from .plan import Study

FILES = ("metrics.json", "history.csv", "config.toml")
SATURATED = 2.65  # |z| above this: tanh'(z) = 1 - tanh(z)^2 < 0.02, the unit barely learns


def archive(study: Study, dest: Path) -> int:
    """Copy every finished run's small files (and weights.json) under dest; returns how many."""
    from ...files.atomic import atomic_write

    inputs = sample_inputs()
    count = 0
    for key, exp in study.experiments.items():
        for spec in study.specs[key]:
            if read_summary(spec.run_dir) is None:
                continue
            target = dest / slug(exp.name) / slug(spec.variant) / f"seed{spec.seed}"
            target.mkdir(parents=True, exist_ok=True)
            for name in FILES:
                shutil.copyfile(spec.run_dir / name, target / name)
            text = json.dumps(weight_facts(spec.run_dir / "model.npz", inputs), indent=1) + "\n"
            atomic_write(target / "weights.json", lambda f, t=text: f.write(t.encode()), force=True)
            count += 1
    log = study.out_dir / "invocations.jsonl"
    if log.is_file():
        shutil.copyfile(log, dest / "invocations.jsonl")
    return count


def sample_inputs() -> np.ndarray:
    """The shipped sample's 3,000 training images as raw pixels (n, 784) float64."""
    from ...data.sources import load_data

    data = load_data("sample")
    return data.x_train.reshape(len(data.x_train), -1).astype(np.float64)


def weight_facts(model_path: Path, pixels: np.ndarray) -> dict[str, Any]:
    """What the report's mechanism sentences rest on, measured on the saved (best-epoch) weights:
    the sum of squared weights (the L2 penalty is λ times it), per layer, and the share of
    first-layer pre-activations beyond ±2.65 (saturated for tanh) on the sample's images."""
    from ...files.model import load_model

    loaded = load_model(model_path, "cpu")
    state = {k: np.asarray(v, dtype=np.float64) for k, v in loaded.model.state().items()}
    x = (pixels / loaded.input_scale - loaded.mean) / loaded.std
    z = x @ state["W1"] + state["b1"]
    return {
        "sum_sq_weights": float(sum((w**2).sum() for k, w in state.items() if k[0] == "W")),
        "sum_sq_by_layer": {k: float((w**2).sum()) for k, w in state.items() if k[0] == "W"},
        "first_layer_saturated": float((np.abs(z) > SATURATED).mean()),
    }


def init_saturation(init: str, seeds: list[int], pixels: np.ndarray) -> list[float]:
    """The same share at initialization, for the study's 784-50 first layer (N(0,1) or Xavier),
    with the training split's standardization (one mean and std over the sample's pixels)."""
    from ...nn.layers import init_linear

    x = pixels / 255.0
    x = (x - x.mean()) / x.std()
    out = []
    for seed in seeds:
        W, b = init_linear(np.random.default_rng(seed), 784, 50, init)
        out.append(float((np.abs(x @ W + b) > SATURATED).mean()))
    return out


def environment() -> dict[str, Any]:
    """Versions, BLAS, the CPU and the git commit of the code that is running (recorded per
    invocation and with the archived measurements)."""
    blas = {}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # noqa: BLE001 - NumPy builds differ in what they report
        pass
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "git_commit": git_commit(),
    }


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[3]
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
