"""Training: the loop, one epoch, checkpoints, evaluation, gradient check, progress events."""
