"""Whether a fit trains in graph mode: where graph_plan says it applies and the self-check against
the eager path passes; otherwise eagerly, with a one-line note (or an error when --graph forced
graph mode)."""

from __future__ import annotations

from ..errors import BackendError
from .graph import GraphEpoch, graph_plan
from .guard import GuardedEpoch
from .selfcheck import self_check


def graph_runner(model, optimizer, data, config, wanted, running, notify=None):
    """The GuardedEpoch (cuda/guard.py) that trains a fit, or None to train eagerly: where
    graph_plan says graph mode applies and its self-check (cuda/selfcheck.py, a short graph of
    the training plan) passes. notify(text) receives why not; a failed self-check is a
    BackendError instead when graph mode was forced (wanted=True)."""
    use, why = graph_plan(model.backend, model.sizes, config, wanted, model.activation, optimizer)
    if why and notify:
        notify(why)
    if not use:
        return None
    t, args = config.training, (model, optimizer, data.X, data.y)
    cause = self_check(*args, data.train_idx, t.batch_size, t.loss_norm, running=running)
    if cause and wanted:
        raise BackendError(
            f"graph mode failed its self-check against eager CUDA: {cause}; train with --no-graph "
            "(eager CUDA), and please report this with the output of netlab doctor"
        )
    if cause:
        if notify:
            notify(f"graph mode failed its self-check ({cause}); training eagerly on CUDA")
        return None
    from ..training.epoch import train_epoch

    def eager(order, on_batch):
        return train_epoch(*args, order, t.batch_size, t.loss_norm, on_batch, running=running)

    graph = GraphEpoch(*args, len(data.train_idx), t.batch_size, t.loss_norm, running=running)
    return GuardedEpoch(graph, eager, bool(wanted), notify)
