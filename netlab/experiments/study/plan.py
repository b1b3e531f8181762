"""The study, reproduced: every experiment of its Figure 1 in two protocols, one report.

`reproduce()` loads the experiment files configs/experiments/{paper,corrected}/{regularization,
activations,topology,depth}.toml, plans every (variant, seed) run, trains each distinct run once
(the 50x50 tanh baseline appears in all four experiments of a protocol; a run that another
experiment already needs is copied, not retrained), writes each experiment's table and curves under
OUT/<experiment name>/, and renders docs/reproduction.md: the study's Figure 1 next to netlab's
numbers, every experiment's table and plot, the Figure 3 gradient check, and the findings, each
computed from the runs.

The study's ReLU and leaky-ReLU runs use batch 1 (48,000 updates per epoch); they run at full
length by default, and `batch1_epochs=N` caps them for a quick look (every number they give is then
marked as shortened).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError
from ..files import Experiment, load_experiment, slug
from ..plan import RunSpec, plan, read_summary

PROTOCOLS = ("paper", "corrected")
EXPERIMENTS = ("regularization", "activations", "topology", "depth")
DEFAULT_BATCH1_EPOCHS = 0  # full length


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
    """configs/experiments of the current directory (a checkout, or a copy of the presets to
    edit), else the presets installed with netlab (presets.py)."""
    here = Path("configs/experiments")
    if here.is_dir():
        return here
    from ...presets import experiments_dir

    return experiments_dir()


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
                    f"experiment file {path} not found; pass --experiments DIR holding paper/ "
                    "and corrected/, or omit it to use the installed presets"
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


# The variant each comparison is made against: the study's baseline of that experiment, or, for
# the L2 sweep under the study's literal loss normalization, λ = 0 under the same normalization.
BASELINES = {
    "regularization": "l2=0",
    "activations": "tanh",
    "topology": "hidden=50x50",
    "depth": "hidden=50x50",
}
CLASSES_BATCH = ", loss_norm=classes_batch"


def reference_of(experiment: str, variant: str) -> str:
    if experiment == "regularization" and variant.endswith(CLASSES_BATCH):
        return "l2=0" + CLASSES_BATCH
    return BASELINES[experiment]
