"""What `netlab train --resume` tells the user: a finished run left alone (and whether and how it
can be trained longer), and what an interrupted run left on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .ui import console, pct, print_json


def resume_point(run_dir: Path, cfg: Any, json_out: bool = False) -> Any:
    """The checkpoint to continue from, or None after telling the user that the run is finished
    (and how it could be trained longer; with --json, its summary); a finished run's files are
    left untouched."""
    from netlab.files.runs import run_complete
    from netlab.training.run import resume_point as read_point

    point = read_point(run_dir, cfg)
    if not (point.done and run_complete(run_dir)):
        return point
    _tell_finished(run_dir, point, cfg, json_out)
    return None


def _tell_finished(run_dir: Path, point: Any, cfg: Any, json_out: bool) -> None:
    import dataclasses
    import json

    from netlab.training.run import extension_problem

    try:
        summary = json.loads((run_dir / "metrics.json").read_text())
        result = (
            f"best epoch {summary['best_epoch']}, test accuracy {pct(summary['test_accuracy'])}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        summary, result = None, "its metrics.json is unreadable"
    if json_out and summary is not None:
        print_json(summary)  # what `netlab train --json` printed when the run finished
        return
    more = dataclasses.replace(cfg.training, epochs=2 * point.epochs)
    problem = extension_problem(point.state, point.epochs, dataclasses.replace(cfg, training=more))
    stop = ", stopped early" if point.state.stopped else ""
    hint = (
        f"to train it longer: netlab train --resume {run_dir} --epochs N (N > {point.epochs})"
        if problem is None
        else f"it cannot be trained longer ({problem[0]}); {problem[1]}"
    )
    console.print(
        f"{run_dir} is finished ({point.epoch} of {point.epochs} epochs{stop}; {result}); "
        f"nothing was changed; {hint}",
        markup=False,
        soft_wrap=True,
    )


def interrupted_note(run_dir: Path, cfg: Any, taken: bool, point: Any) -> str:
    """What Ctrl-C leaves in run_dir, read from the disk, and how to go on from there."""
    from netlab.errors import NetlabError
    from netlab.training.checkpoint import NAME, load_checkpoint
    from netlab.training.run import RESUMABLE

    if not taken:
        return (
            f"interrupted before training started; {run_dir} is unchanged"
            if point is not None
            else "interrupted before training started; nothing was written"
        )
    resume = f"netlab train --resume {run_dir}"
    try:
        state = load_checkpoint(run_dir / NAME, cfg, ignore=RESUMABLE)
    except NetlabError:  # none yet (or unreadable: then it is not a checkpoint to promise)
        return (
            f"interrupted in epoch 1; {run_dir} holds its config.toml but no checkpoint yet (one "
            f"is written when an epoch ends): {resume} starts it again from epoch 1"
        )
    epoch = state.epoch
    if state.stopped or epoch >= cfg.training.epochs:
        return (
            f"interrupted after the last epoch, before metrics.json (written last) marked the run "
            f"complete; {run_dir} keeps the checkpoint of epoch {epoch}: {resume} writes the "
            "results"
        )
    return (
        f"interrupted in epoch {epoch + 1}; {run_dir} keeps its config.toml and the checkpoint "
        f"of epoch {epoch}: {resume} continues from there"
    )
