"""The extension guide (docs/architecture.md, "Add an activation / an optimizer / a data source")
applied as written to a scratch copy of the package: each example is one entry appended to one
module, and the real `netlab` command there (a subprocess) shows that help, config validation,
flags, training, the checkpoint and the generated config page follow from the entry alone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "architecture.md"
TARGETS = {  # guide heading -> the module its example goes into
    "Add an activation": "netlab/nn/activations.py",
    "Add an optimizer": "netlab/nn/optimizers.py",
    "Add a data source": "netlab/data/sources.py",
}


def guide_examples() -> dict[str, str]:
    """Heading -> the first Python block under it."""
    text = GUIDE.read_text()
    out = {}
    for heading in TARGETS:
        section = text.split(f"### {heading}\n", 1)[1]
        out[heading] = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """netlab as installed (cli/ as netlab/cli, configs/ as netlab/configs), examples added."""
    top = tmp_path_factory.mktemp("scratch")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "netlab", top / "netlab", ignore=ignore)
    shutil.copytree(ROOT / "cli", top / "netlab" / "cli", ignore=ignore)
    shutil.copytree(ROOT / "configs", top / "netlab" / "configs", ignore=ignore)
    for heading, code in guide_examples().items():
        with open(top / TARGETS[heading], "a") as f:
            f.write("\n\n" + code)
    return top


def python(scratch: Path, code: str, *args: str, status: int = 0) -> subprocess.CompletedProcess:
    """`python -c code args` with the scratch copy as netlab (run there: sys.path[0] is '')."""
    env = {**os.environ, "PYTHONPATH": str(scratch), "COLUMNS": "200", "OPENBLAS_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", code, *args], cwd=scratch, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == status, (args, run.stdout, run.stderr)
    return run


def netlab(scratch: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    return python(scratch, "from netlab.cli import main; main()", *args, status=code)


def test_the_examples_are_what_the_scratch_copy_runs(scratch):
    where = python(scratch, "import netlab; print(netlab.__file__)").stdout
    assert Path(where.strip()).parent == scratch / "netlab"
    found = netlab(scratch, "train", "--help").stdout
    for word in ("softsign", "rmsprop", "blobs", "--rho", "decay of the squared gradients"):
        assert word in found, word


def test_a_declared_setting_is_a_checked_config_field_and_a_flag(scratch):
    shown = json.loads(netlab(scratch, "config", "show", "--optimizer", "rmsprop", "--json").stdout)
    assert shown["training"]["rho"] == 0.9 and shown["training"]["lr"] == 1e-3
    bad = netlab(scratch, "config", "show", "--optimizer", "rmsprop", "--rho", "1.5", code=2)
    assert "training.rho must be a float in [0, 1); got 1.5" in bad.stderr
    other = netlab(scratch, "config", "show", "--rho", "0.5", code=2)  # sgd reads no rho
    assert "training.rho does not apply to optimizer 'sgd'" in other.stderr
    page = netlab(scratch, "config", "show").stdout
    assert "rho = 0.9" in page
    ref = python(scratch, "from netlab.cli.config import reference; print(reference())")
    row = "| `rho` | a float in [0, 1) | `0.9` | `--rho` | rmsprop: decay of the squared"
    assert row in ref.stdout
    assert (
        "| `eps` | a float in (0, 1] | `1e-08` | `--eps` | adam, adamw, rmsprop: eps. |"
        in ref.stdout
    )


def test_the_declared_default_is_what_trains_and_the_checkpoint_carries_it(scratch):
    """One epoch on the sample with rho unset equals one with --rho 0.9 (the declared default)
    bit for bit, and differs from --rho 0.5: the default reaches the update."""
    weights = {}
    for label, extra in (
        ("unset", ()),
        ("declared", ("--rho", "0.9")),
        ("other", ("--rho", "0.5")),
    ):
        out = scratch / f"run-{label}"
        netlab(scratch, "train", "--data", "sample", "--epochs", "1", "--hidden", "8",
               "--optimizer", "rmsprop", *extra, "--out", str(out), "-q")  # fmt: skip
        with np.load(out / "model.npz") as z:
            weights[label] = {k: z[k].copy() for k in z.files if k.startswith(("W", "b"))}
        with np.load(out / "checkpoint.npz") as z:
            assert "opt.sq" in z.files
            meta = json.loads(z["metadata"].tobytes().decode())
        assert f"rho = {0.5 if label == 'other' else 0.9}" in meta["config_toml"]
    assert weights["unset"].keys() and weights["unset"].keys() == weights["declared"].keys()
    assert all(
        np.array_equal(weights["unset"][k], weights["declared"][k]) for k in weights["unset"]
    )
    assert not all(
        np.array_equal(weights["unset"][k], weights["other"][k]) for k in weights["unset"]
    )


def test_the_activation_and_data_source_examples_train(scratch):
    out = scratch / "run-blobs"
    netlab(scratch, "train", "--data", "blobs", "--activation", "softsign", "--epochs", "3",
           "--hidden", "8", "--out", str(out), "-q")  # fmt: skip
    evaluated = json.loads(netlab(scratch, "eval", str(out / "model.npz"), "--json").stdout)
    assert evaluated["class_names"] == ["a", "b", "c"] and evaluated["test_accuracy"] > 0.9
    code = "from netlab.nn.activations import reference; print(*reference('softsign', [1.0, -3.0]))"
    ref = python(scratch, code)
    np.testing.assert_allclose([float(v) for v in ref.stdout.split()], [0.5, -0.75], rtol=1e-12)
