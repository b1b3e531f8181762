"""A whole training run from a config: load and prepare the data, build the model, fit, evaluate
the best weights on validation and test; and where a run directory stands when it is resumed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..data.prepare import Prepared, prepare
from ..errors import ConfigError, ModelFileError
from ..nn.backend import Backend, get_backend
from ..nn.layers import MLP
from ..nn.schedules import scheduled_lr
from .checkpoint import TrainState
from .evaluation import Evaluation, evaluate
from .loop import FitResult, Hooks, early_stopped, fit, seeded_rngs
from .progress import Notice, Progress

# The config fields a resume may change: more epochs extend a run. Everything else is the run.
RESUMABLE = ("training.epochs",)


@dataclass
class TrainResult:
    """Everything a run produces: the model (best weights), its history and final evaluations."""

    model: MLP
    config: Config
    fit: FitResult
    data: Prepared
    val: Evaluation
    test: Evaluation
    backend: Backend


@dataclass(frozen=True)
class ResumePoint:
    """Where a run directory stands for a resume: its last checkpoint (None: the run was stopped
    before its first epoch ended), the epoch count the run was started with, and whether that
    checkpoint already ends the run under the resumed config (nothing left to train)."""

    state: TrainState | None
    epochs: int
    done: bool

    @property
    def epoch(self) -> int:
        """The last finished epoch (0: none)."""
        return self.state.epoch if self.state is not None else 0


def resume_point(run_dir: str | Path, config: Config) -> ResumePoint:
    """Read RUN_DIR's checkpoint for a resume with `config`, which may differ from the run's only in
    more epochs; ConfigError when the run cannot continue with it (fewer epochs, a schedule tied
    to the epoch count, or a run that stopped early)."""
    from ..config import config_from_toml
    from .checkpoint import NAME, load_checkpoint

    config = config.resolved()
    path = Path(run_dir) / NAME
    if not path.exists() and not (Path(run_dir) / "model.npz").exists():
        return ResumePoint(None, config.training.epochs, False)
    state = load_checkpoint(path, config, ignore=RESUMABLE)
    before = config_from_toml(state.config_toml, origin=str(path)).training.epochs
    wanted = config.training.epochs
    if wanted != before:
        problem = extension_problem(state, before, config)
        if problem is not None:
            why, fix = problem
            raise ConfigError(
                f"cannot resume {run_dir} with training.epochs {wanted} instead of {before}: "
                f"{why}; {fix}"
            )
    return ResumePoint(state, before, state.stopped or state.epoch >= wanted)


def extension_problem(state: TrainState, before: int, config: Config) -> tuple[str, str] | None:
    """Why the run in `state`, started with `before` epochs, cannot continue to
    config.training.epochs as the run it would have been with that many epochs from the start:
    (reason, fix), or None when it can."""
    t = config.resolved().training
    fresh = f"start a new run with --epochs {t.epochs}"
    if t.epochs < before:
        return f"a resume can add epochs, not remove them ({state.epoch} of {before} done)", (
            f"pass --epochs {before} or more, or {fresh}"
        )
    if state.stopped or early_stopped(state.epoch, state.best_epoch, t.patience, t.epochs):
        stopped = "it stopped" if state.stopped else f"with {t.epochs} epochs it would have stopped"
        return (
            f"{stopped} early after epoch {state.epoch} (no better {t.monitor} since epoch "
            f"{state.best_epoch}, patience {t.patience}), so more epochs would not run",
            f"{fresh} and a larger --patience, or --patience 0",
        )
    for epoch in range(1, state.epoch + 1):
        had, would = (scheduled_lr(t.schedule, t.lr, epoch, n) for n in (before, t.epochs))
        if had != would:
            return (
                f"its {t.schedule} schedule sets every epoch's learning rate from the epoch "
                f"count (epoch {epoch} trained with lr {had:.4g}; with {t.epochs} epochs it would "
                f"have had {would:.4g}), so the result would match neither run",
                fresh,
            )
    return None


def build_model(
    config: Config, n_in: int, n_out: int, rng: np.random.Generator, backend: Backend
) -> MLP:
    m = config.model
    return MLP(
        [n_in, *m.hidden, n_out],
        m.activation,
        leaky_slope=m.leaky_slope,
        init=m.init,
        rng=rng,
        backend=backend,
    )


def data_location(config: Config) -> str | None:
    """Where config.data.source reads from: data.path for file sources, else data.dir."""
    from ..data.sources import DATA_SOURCES

    d = config.data
    location = d.path if DATA_SOURCES.get(d.source).takes == "file" else d.dir
    return location or None


def load_prepared(config: Config, backend: Backend, rng: np.random.Generator) -> Prepared:
    from ..data.sources import load_data

    raw = load_data(config.data.source, data_location(config))
    return prepare(
        raw,
        backend,
        val_fraction=config.data.val_fraction,
        normalization=config.data.normalization,
        rng=rng,
    )


def train(
    config: Config,
    device: str = "cpu",
    progress: Progress | None = None,
    graph: bool | None = None,
    run_dir: str | Path | None = None,
    resume: bool | ResumePoint = False,
    on_start: Callable[[], None] | None = None,
) -> TrainResult:
    """Load data, build the model, fit, and evaluate the best weights on validation and test.

    graph: CUDA-graph epochs on CUDA (None: wherever they apply; False: eager), see cuda/graph.py.
    run_dir: write RUN_DIR/checkpoint.npz after every epoch; resume: continue from it (True, or
    the resume_point already read), so the finished run is bit-identical on CPU to an
    uninterrupted one, also when `config` extends the run to more epochs (see resume_point).
    """
    from .checkpoint import NAME, save_checkpoint

    config = config.resolved()
    state = None
    if resume:
        if run_dir is None:
            raise ConfigError("resume needs the run directory that holds the checkpoint")
        point = resume if isinstance(resume, ResumePoint) else resume_point(run_dir, config)
        state = point.state
        if state is None and progress:  # killed during its first epoch: start at epoch 1
            progress(Notice(f"{run_dir} has no checkpoint yet; training from epoch 1"))
    backend = get_backend(device, config.training.dtype)
    rngs = seeded_rngs(config.training.seed)
    data = load_prepared(config, backend, rngs.split)
    model = build_model(config, data.n_features, data.n_classes, rngs.init, backend)
    if state is not None and state.flat.shape != model.flat.shape:
        raise ModelFileError(
            f"{Path(run_dir) / NAME} holds {state.flat.size} parameters, this run's model has "
            f"{model.flat.size}; restore the run's config and data or start a new run"
        )
    save = (lambda st: save_checkpoint(Path(run_dir) / NAME, st)) if run_dir is not None else None
    hooks = Hooks(progress=progress, checkpoint=save, on_start=on_start)
    result = fit(model, data, config, rngs, hooks=hooks, graph=graph, resume=state)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        val = evaluate(model, data.X, data.y, data.val_rows)
        test = evaluate(model, data.X_test, data.y_test)
    return TrainResult(model, config, result, data, val, test, backend)
