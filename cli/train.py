"""`netlab train`: config + flags -> netlab.train -> RUN_DIR/{model.npz, history.csv, ...}.

Flags override the config file; each config flag's help and default come from the config schema
(overrides.py maps flags to fields). Whether a run directory may be used (new, --force, --resume,
extended by --epochs) is decided before anything is written; the files are netlab/files/runs.py's.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import typer

from netlab.errors import OutputExistsError

from . import options
from .options import field_help
from .overrides import resolve
from .resume import interrupted_note, resume_point
from .signals import exit_code, terminated
from .ui import TrainingProgress, console, notice, pct, print_json, progress_mode

# The options, one constant each (the signature below is one line per option).
ConfigFile = typer.Option(
    None,
    "--config",
    "-c",
    help="TOML config file, or a preset name: baseline, paper, best (netlab config list); "
    "flags override its values. \\[default: the built-in baseline, the same as "
    "configs/baseline.toml]",
)
Out = typer.Option(
    None,
    "--out",
    "-o",
    help="Run directory. \\[default: runs/<name>-seed<N>-<date>-<time>]",
)
Force = typer.Option(
    False,
    "--force",
    help="Reuse an existing --out directory: the files an earlier training wrote there are "
    "removed first; other files stay.",
)
TensorBoard = typer.Option(
    None,
    "--tensorboard",
    help="Also write per-epoch TensorBoard scalars into this directory. \\[default: none]",
)
Resume = typer.Option(
    None,
    "--resume",
    help="Continue the run in this directory from its last checkpoint; with a larger "
    "--epochs, train a finished run longer. \\[default: none: a new run]",
)
Graph = typer.Option(
    None,
    "--graph/--no-graph",
    help="CUDA only: replay each epoch as one captured CUDA graph. \\[default: where it applies]",
)
Quiet = typer.Option(False, "--quiet", "-q", help="No progress output, only the summary.")
JsonSummary = typer.Option(False, "--json", help="Print only the summary, as JSON.")
Name = typer.Option(
    None,
    "--name",
    help="Run name, used in the default run directory. \\[default: the config file's name, else "
    "baseline]",
)
Hidden = typer.Option(
    None, "--hidden", help=field_help("model.hidden", "Comma-separated, e.g. 100,50.")
)
Activation = typer.Option(
    None, "--activation", help=field_help("model.activation", options.activation_help("One of "))
)
LeakySlope = typer.Option(None, "--leaky-slope", help=field_help("model.leaky_slope"))
Init = typer.Option(None, "--init", help=field_help("model.init"))
Epochs = typer.Option(None, "--epochs", help=field_help("training.epochs"))
BatchSize = typer.Option(None, "--batch-size", help=field_help("training.batch_size"))
Optimizer = typer.Option(
    None,
    "--optimizer",
    help=field_help("training.optimizer", options.optimizer_help("One of ")),
)
Lr = typer.Option(None, "--lr", help=field_help("training.lr"))
Schedule = typer.Option(
    None,
    "--schedule",
    help=field_help(
        "training.schedule", "constant, or cosine (from --lr down towards 0 at the end)."
    ),
)
Momentum = typer.Option(None, "--momentum", help=field_help("training.momentum"))
Nesterov = typer.Option(None, "--nesterov/--no-nesterov", help=field_help("training.nesterov"))
L2 = typer.Option(None, "--l2", help=field_help("training.l2"))
Dropout = typer.Option(None, "--dropout", help=field_help("training.dropout"))
LossNorm = typer.Option(None, "--loss-norm", help=field_help("training.loss_norm"))
Patience = typer.Option(None, "--patience", help=field_help("training.patience"))
Monitor = typer.Option(
    None, "--monitor", help=field_help("training.monitor", "val_accuracy or val_loss.")
)
Seed = typer.Option(None, "--seed", help=field_help("training.seed"))
Dtype = typer.Option(None, "--dtype", help=field_help("training.dtype"))
Data = typer.Option(None, "--data", help=options.data_help("fashion-mnist"))
ValFraction = typer.Option(None, "--val-fraction", help=field_help("data.val_fraction"))
Normalization = typer.Option(None, "--normalization", help=field_help("data.normalization"))


def train(
    config: Path = ConfigFile,
    out: Path = Out,
    force: bool = Force,
    tensorboard: Path = TensorBoard,
    resume: Path = Resume,
    device: str = options.Device,
    graph: bool = Graph,
    quiet: bool = Quiet,
    json_out: bool = JsonSummary,
    name: str = Name,
    hidden: str = Hidden,
    activation: str = Activation,
    leaky_slope: float = LeakySlope,
    init: str = Init,
    epochs: int = Epochs,
    batch_size: int = BatchSize,
    optimizer: str = Optimizer,
    lr: float = Lr,
    schedule: str = Schedule,
    momentum: float = Momentum,
    nesterov: bool = Nesterov,
    l2: float = L2,
    dropout: float = Dropout,
    loss_norm: str = LossNorm,
    patience: int = Patience,
    monitor: str = Monitor,
    seed: int = Seed,
    dtype: str = Dtype,
    data: str = Data,
    data_dir: str = options.DataDir,
    val_fraction: float = ValFraction,
    normalization: str = Normalization,
) -> None:
    """Train an MLP and save the best-validation model with its history.

    Flags override the config file (--config); defaults are the built-in baseline's.
    Config fields without a flag are set in a file; docs/config.md lists them all.
    `netlab config show [FLAGS]` prints the config a command line resolves to.
    """
    params = dict(locals())  # the options by parameter name, before anything else is defined
    cfg, run_config = resolve(params)
    if resume is not None:
        point = resume_point(resume, cfg, json_out)
        if point is None:  # finished, and nothing asked to extend it
            return
        run_dir = resume
    else:
        point = None
        run_dir = out if out is not None else new_run_dir_for(cfg)
        _check_free(run_dir, force)
    _run(cfg, run_config, run_dir, point, params)


def new_run_dir_for(cfg: Any) -> Path:
    from netlab.files.runs import new_run_dir

    return new_run_dir(Path("runs"), cfg)


def _check_free(run_dir: Path, force: bool) -> None:
    taken = run_dir.exists() and (
        not run_dir.is_dir() or any(p.name != ".lock" for p in run_dir.iterdir())
    )
    if taken and not force:
        raise OutputExistsError(
            f"run directory {run_dir} exists; pass --force to replace its netlab files, --resume "
            f"{run_dir} to continue it, or choose another --out"
        )


def _run(cfg: Any, run_config: Any, run_dir: Path, point: Any, p: dict[str, Any]) -> None:
    """Train into run_dir (taken only once everything is validated), write the run, report."""
    from netlab.errors import Interrupted
    from netlab.files.runs import take_run_dir, write_run
    from netlab.training.progress import Notice
    from netlab.training.run import train as run_training

    mode = "quiet" if p["json_out"] else progress_mode(p["quiet"])
    started = time.time()
    stack = contextlib.ExitStack()
    board = None
    if p["tensorboard"] is not None:
        from netlab.integrations.tensorboard import TensorBoardLog

        board = TensorBoardLog(p["tensorboard"])
        stack.callback(board.close)
    taken = []

    def progress(event) -> None:
        shown(event)
        if board is not None:
            board(event)

    def start() -> None:
        """Everything is validated: take the run directory (runs.take_run_dir says how)."""
        extend = point is not None and cfg.training.epochs != run_config.training.epochs
        removed = take_run_dir(stack, run_dir, cfg, new=point is None, force=p["force"],
                               extend=extend)  # fmt: skip
        taken.append(True)
        if removed:
            shown(Notice(f"--force: removed the previous run's {', '.join(removed)}"))
        if extend:
            before, after = run_config.training.epochs, cfg.training.epochs
            shown(Notice(f"training {run_dir} longer: {before} -> {after} epochs, from epoch "
                         f"{point.epoch + 1}"))  # fmt: skip

    with stack:
        try:
            with TrainingProgress(mode) as shown:
                result = run_training(
                    cfg, device=p["device"], progress=progress, graph=p["graph"],
                    run_dir=run_dir, resume=point if point is not None else False, on_start=start,
                )  # fmt: skip
            paths = write_run(run_dir, result, started=started, force=True)
        except Exception as exc:  # a sticky CUDA fault, or any CuPy/CUDA error: say how to resume
            raise _gpu_failure(exc, run_dir, cfg, bool(taken), point) from None
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (signals.py): exit 130 or 143
            note = interrupted_note(run_dir, cfg, bool(taken), point)
            if terminated():
                note = note.replace("interrupted", "terminated (SIGTERM)", 1)
            error = Interrupted(note)
            error.exit_code = exit_code()
            raise error from None
    _report(paths, p["json_out"])


def _gpu_failure(exc: Exception, run_dir: Path, cfg: Any, taken: bool, point: Any) -> Exception:
    """A GPU failure as one line that says where the run stands and how to resume it (the last
    per-epoch checkpoint is intact; --resume works on the CPU too); any other error as it was."""
    from netlab.cuda.fault import gpu_failure

    failure = gpu_failure(exc)
    if failure is None:
        return exc
    note = interrupted_note(run_dir, cfg, taken, point).replace("interrupted", "stopped", 1)
    failure.args = (f"{failure}; {note} (with --device cpu too)",)
    return failure


def _report(paths: dict[str, Any], json_out: bool) -> None:
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
        f"{summary['train_seconds']:.1f}s on {summary['device']}",
        soft_wrap=True,  # one line each, whatever the width: scripts read them, paths stay whole
    )
    console.print(f"saved {paths['model']} and {paths['history']}", soft_wrap=True, markup=False)
