"""A whole training run from a config: load and prepare the data, build the model, fit, evaluate
the best weights on validation and test."""

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
from .evaluation import Evaluation, evaluate
from .loop import FitResult, Hooks, fit, seeded_rngs
from .progress import Notice, Progress


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
    resume: bool = False,
    on_start: Callable[[], None] | None = None,
) -> TrainResult:
    """Load data, build the model, fit, and evaluate the best weights on validation and test.

    graph: CUDA-graph epochs on CUDA (None: wherever they apply; False: eager), see cuda/graph.py.
    run_dir: write RUN_DIR/checkpoint.npz after every epoch; resume: continue from it (it must
    belong to this config), so the finished run is bit-identical to an uninterrupted one on CPU.
    """
    from .checkpoint import NAME, load_checkpoint, save_checkpoint

    config = config.resolved()
    state = None
    if resume:
        if run_dir is None:
            raise ConfigError("resume needs the run directory that holds the checkpoint")
        if (Path(run_dir) / NAME).exists() or (Path(run_dir) / "model.npz").exists():
            state = load_checkpoint(Path(run_dir) / NAME, config)
        elif progress:  # killed during its first epoch: continuing is starting at epoch 1
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
