"""`netlab train`: config + flags -> netlab.train -> RUN_DIR/{model.npz, history.csv, ...}."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import typer

from ..errors import OutputExistsError
from . import options
from .signals import interrupted
from .ui import TrainingProgress, console, notice, pct, print_json, progress_mode


def train(
    config: Path = typer.Option(
        None,
        "--config",
        "-c",
        help="TOML config file or preset name: baseline, paper, best (netlab config list). "
        "Default: the built-in baseline.",
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Run directory (default: runs/<config>-seed<N>-<time>)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite files in an existing --out directory."
    ),
    tensorboard: Path = typer.Option(
        None,
        "--tensorboard",
        help="Also write per-epoch scalars for TensorBoard into this directory.",
    ),
    resume: Path = typer.Option(
        None,
        "--resume",
        help="Continue the interrupted run in this directory from its last checkpoint.",
    ),
    device: str = options.Device,
    graph: bool = typer.Option(
        None,
        "--graph/--no-graph",
        help="CUDA only: replay each epoch as one captured CUDA graph (default: where it applies).",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress output, only the summary."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    name: str = typer.Option(
        None, "--name", help="Run name (default: the config's), used in RUN_DIR."
    ),
    hidden: str = typer.Option(None, "--hidden", help="Hidden layer widths, e.g. 50,50."),
    activation: str = typer.Option(None, "--activation", help=options.activation_help()),
    leaky_slope: float = typer.Option(None, "--leaky-slope", help="Negative slope of leaky_relu."),
    init: str = typer.Option(None, "--init", help="normal (N(0,1), the study's), xavier or he."),
    epochs: int = typer.Option(None, "--epochs", help="Maximum number of epochs."),
    batch_size: int = typer.Option(None, "--batch-size", help="Mini-batch size."),
    optimizer: str = typer.Option(None, "--optimizer", help=options.optimizer_help()),
    lr: float = typer.Option(None, "--lr", help="Learning rate (default: the optimizer's)."),
    schedule: str = typer.Option(
        None, "--schedule", help="constant, or cosine (decay to 0 over the epochs)."
    ),
    momentum: float = typer.Option(
        None, "--momentum", help="Momentum coefficient (0 = plain SGD)."
    ),
    nesterov: bool = typer.Option(None, "--nesterov/--no-nesterov", help="Nesterov momentum."),
    l2: float = typer.Option(None, "--l2", help="L2 strength: the gradient gets + 2*l2*W."),
    dropout: float = typer.Option(
        None, "--dropout", help="Share of hidden units dropped per training step (0 = none)."
    ),
    loss_norm: str = typer.Option(
        None, "--loss-norm", help="batch (mean) or classes_batch (the study's)."
    ),
    patience: int = typer.Option(
        None, "--patience", help="Early-stopping patience in epochs (0 = never stop)."
    ),
    monitor: str = typer.Option(
        None, "--monitor", help="val_loss or val_accuracy picks the best epoch."
    ),
    seed: int = typer.Option(
        None, "--seed", help="Seed of the split, the init and the batch order."
    ),
    dtype: str = typer.Option(None, "--dtype", help="float32 or float64."),
    data: str = typer.Option(None, "--data", help=options.data_help("fashion-mnist")),
    data_dir: str = options.DataDir,
    val_fraction: float = typer.Option(
        None, "--val-fraction", help="Validation share of the training file."
    ),
    normalization: str = typer.Option(
        None, "--normalization", help="standardize (one mean/std), per_pixel or scale (/255 only)."
    ),
) -> None:
    """Train an MLP and save the best-validation model with its history."""
    from ..config import Config, load_config, with_overrides
    from ..errors import ConfigError
    from ..files.atomic import atomic_write
    from ..files.runs import new_run_dir, run_lock, write_run
    from ..presets import config_path
    from ..training.run import train as run_training

    if resume is not None:
        if config is not None or out is not None or force:
            raise ConfigError(
                "--resume continues RUN_DIR with its own config.toml; drop --config, --out and "
                "--force"
            )
        if not (resume / "config.toml").is_file():
            raise ConfigError(
                f"{resume} is not a netlab run directory (no config.toml); pass the directory "
                "of an interrupted netlab train"
            )
        base = load_config(resume / "config.toml")
    else:
        base = load_config(config_path(config)) if config is not None else Config()
    cfg = with_overrides(
        base,
        {
            "name": name,
            "model.hidden": options.parse_ints(hidden, "--hidden"),
            "model.activation": activation,
            "model.leaky_slope": leaky_slope,
            "model.init": init,
            "training.epochs": epochs,
            "training.batch_size": batch_size,
            "training.optimizer": optimizer,
            "training.lr": lr,
            "training.schedule": schedule,
            "training.momentum": momentum,
            "training.nesterov": nesterov,
            "training.l2": l2,
            "training.dropout": dropout,
            "training.loss_norm": loss_norm,
            "training.patience": patience,
            "training.monitor": monitor,
            "training.seed": seed,
            "training.dtype": dtype,
            **options.data_overrides(data, data_dir),
            "data.val_fraction": val_fraction,
            "data.normalization": normalization,
        },
    )
    if resume is not None:
        run_dir = resume
    else:
        run_dir = out if out is not None else new_run_dir(Path("runs"), cfg)
        taken = run_dir.exists() and (
            not run_dir.is_dir() or any(p.name != ".lock" for p in run_dir.iterdir())
        )
        if taken and not force:
            raise OutputExistsError(
                f"run directory {run_dir} exists; pass --force to overwrite it, --resume "
                f"{run_dir} to continue it, or choose another --out"
            )
    mode = "quiet" if json_out else progress_mode(quiet)
    started = time.time()
    stack = contextlib.ExitStack()
    board = None
    if tensorboard is not None:
        from ..integrations.tensorboard import TensorBoardLog

        board = TensorBoardLog(tensorboard)
        stack.callback(board.close)

    def start() -> None:
        """Everything is validated: take the run directory (lock, then the config first, so a
        run killed from here on can be resumed)."""
        stack.enter_context(run_lock(run_dir, create=resume is None))
        if resume is None:
            text = cfg.to_toml()
            atomic_write(run_dir / "config.toml", lambda f: f.write(text.encode()), force=True)

    with stack:
        try:
            with TrainingProgress(mode) as shown:

                def progress(event) -> None:
                    shown(event)
                    if board is not None:
                        board(event)

                result = run_training(
                    cfg, device=device, progress=progress, graph=graph, run_dir=run_dir,
                    resume=resume is not None, on_start=start,
                )  # fmt: skip
            paths = write_run(run_dir, result, started=started, force=True)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (signals.py)
            if not (run_dir / "config.toml").is_file():
                raise interrupted("no epoch had finished; nothing was written") from None
            if not (run_dir / "checkpoint.npz").is_file():
                raise interrupted(
                    f"{run_dir} keeps its config, no epoch had finished: netlab train --resume "
                    f"{run_dir} starts it again"
                ) from None
            raise interrupted(
                f"{run_dir} keeps its config and the checkpoint of its last finished epoch: "
                f"netlab train --resume {run_dir} continues"
            ) from None
    summary = paths["summary"]
    if summary["data_checksums_ok"] is False:
        notice(f"note: the data in {summary['data']} differ from the official Fashion-MNIST files")
    if json_out:
        print_json(summary)
        return
    console.print(
        f"best epoch {summary['best_epoch']}/{summary['epochs_run']}: "
        f"validation accuracy {pct(summary['val_accuracy'])} (loss {summary['val_loss']:.4f}), "
        f"test accuracy {pct(summary['test_accuracy'])} (loss {summary['test_loss']:.4f}); "
        f"{summary['train_seconds']:.1f}s on {summary['device']}"
    )
    console.print(f"saved {paths['model']} and {paths['history']}")
