"""When an epoch counts as diverged, and what the error says (including what is left on disk).

An epoch diverged when its parameters or its training or validation loss are NaN or infinite, or
when a loss is finite but above EXPLODED_LOSS: a finite explosion. Both end the training with
TrainingDiverged (exit code 3 in the CLI) before the epoch is checkpointed.
"""

from __future__ import annotations

import math

from ..errors import TrainingDiverged

# The bound on an epoch's mean cross-entropy (training or validation split). Guessing uniformly
# scores ln(classes), 2.30 for 10; the study's N(0, 1)-init ReLU runs start at 919 to 1,627 and
# measure at most 8.38 after any epoch (scripts/study_losses.py; docs/cli.md, "Divergence"). A
# loss of 1e6 means logits about a million apart, from which float32 training does not come back.
EXPLODED_LOSS = 1e6


def exploded(train_loss: float, val_loss: float | None) -> tuple[str, float] | None:
    """("training" or "validation", the loss) when an epoch's loss is above EXPLODED_LOSS."""
    if val_loss is not None and val_loss > EXPLODED_LOSS and val_loss > train_loss:
        return "validation", val_loss
    if train_loss > EXPLODED_LOSS:
        return "training", train_loss
    return None


def kept_note(epoch: int, checkpointing: bool) -> str:
    """What a run directory holds after epoch `epoch` diverged (checkpoints are written after
    every finished epoch, and never for the diverged one)."""
    if not checkpointing:
        return ""
    if epoch > 1:
        return f"; the checkpoint of epoch {epoch - 1}, the last good one, is kept"
    return "; no epoch finished, so there is no checkpoint to resume from"


def _advice(lr: float, init: str) -> str:
    return f"lower the learning rate (now {lr:g})" + (
        " or use --init xavier" if init == "normal" else ""
    )


def diverged_error(
    epoch: int, where: str, lr: float, init: str, checkpointing: bool
) -> TrainingDiverged:
    """A NaN or Inf; `where` names the first bad batch (", batch B of N: ...") or is empty."""
    return TrainingDiverged(
        f"training diverged at epoch {epoch}{where}; {_advice(lr, init)}"
        + kept_note(epoch, checkpointing)
    )


def exploded_error(
    epoch: int, split: str, loss: float, n_classes: int, lr: float, init: str,
    checkpointing: bool,
) -> TrainingDiverged:  # fmt: skip
    """A finite explosion: the `split` loss of `epoch` is above EXPLODED_LOSS."""
    return TrainingDiverged(
        f"training exploded at epoch {epoch}: the {split} loss is {loss:.3g}, above the "
        f"divergence bound of {EXPLODED_LOSS:g} (a uniform guess scores "
        f"{math.log(n_classes):.2f}); {_advice(lr, init)}" + kept_note(epoch, checkpointing)
    )
