"""Graph mode's self-check before it trains (cuda/selfcheck.py) and the fallback to eager, both
outcomes driven through the NumPy stand-in for CuPy (standin.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from standin import STICKY_MESSAGE, CUDARuntimeError, ReferenceKernels, poison

import netlab
from netlab.config import Config, with_overrides
from netlab.cuda import kernels as K
from netlab.cuda.selfcheck import self_check
from netlab.nn.optimizers import make_optimizer
from netlab.training.loop import seeded_rngs
from netlab.training.progress import Notice
from netlab.training.run import build_model, load_prepared, train


def _setup(**overrides):
    cfg = with_overrides(Config(), {"data.source": "sample", **overrides}).resolved()
    be = netlab.get_backend("cuda", cfg.training.dtype)
    rngs = seeded_rngs(0)
    data = load_prepared(cfg, be, rngs.split)
    model = build_model(cfg, data.n_features, data.n_classes, rngs.init, be)
    t = cfg.training
    opt = make_optimizer(t.optimizer, model, t.lr, vars(t))
    return model, opt, data


class RoundsGridDown(ReferenceKernels):
    """A plausible launch defect: a GEMM grid rounded down, so the rows past the last full tile
    of 16 are never written (here: W2's gradient rows 48 and 49 of the sample network)."""

    def gemm(self, *, m, **kw):
        super().gemm(m=m - m % 16 if m > 16 else m, **kw)


class FailsToLaunch(ReferenceKernels):
    def softmax_ce_grad(self, *args, **kw):
        raise RuntimeError("cudaErrorLaunchOutOfResources: too many resources requested")


class FaultsInLaunch(ReferenceKernels):
    """A sticky fault: the CUDA context is poisoned, so the self-check's restore raises too."""

    def softmax_ce_grad(self, *args, **kw):
        poison()
        raise CUDARuntimeError(STICKY_MESSAGE)


@pytest.mark.parametrize("activation,optimizer", [("tanh", "sgd"), ("gelu", "adam")])
def test_correct_kernels_pass_and_leave_the_state_as_it_was(standin, activation, optimizer):
    model, opt, data = _setup(**{"model.activation": activation, "training.optimizer": optimizer})
    before = model.flat.copy(), {k: v.copy() for k, v in opt.state.items()}, opt.steps
    assert self_check(model, opt, data.X, data.y, data.train_idx, 128, "batch") == ""
    np.testing.assert_array_equal(model.flat, before[0])
    assert opt.steps == before[2] and all((opt.state[k] == v).all() for k, v in before[1].items())


@pytest.mark.parametrize(
    "kernels,cause",
    [
        # The sample's 2,400 training rows: 3 batches of 128 and the plan's last one of 96.
        (RoundsGridDown, r"W2 after 4 graph steps differs from the eager path by"),
        (FailsToLaunch, "RuntimeError: cudaErrorLaunchOutOfResources"),
    ],  # fmt: skip
)
def test_a_defect_is_named(standin, monkeypatch, kernels, cause):
    monkeypatch.setattr(K, "Kernels", kernels)
    model, opt, data = _setup()
    found = self_check(model, opt, data.X, data.y, data.train_idx, 128, "batch")
    assert re.search(cause, found), found


def test_a_sticky_fault_is_not_a_fallback_but_gpu_state_lost(standin, monkeypatch):
    """Issue 23 item 4: after an illegal address the restore raised inside the except branch."""
    from netlab.cuda.fault import GPUStateLost

    monkeypatch.setattr(K, "Kernels", FaultsInLaunch)
    model, opt, data = _setup()
    with pytest.raises(GPUStateLost, match="the GPU state is lost .CUDARuntimeError: cudaError"):
        self_check(model, opt, data.X, data.y, data.train_idx, 128, "batch")


@pytest.mark.parametrize(
    "n_train,batch,plan", [(2400, 128, (480, 3)), (384, 128, (384, 3)), (48_000, 1, (3, 2)),
                           (100, 128, (100, 3))],
)  # fmt: skip
def test_the_check_is_a_short_graph_of_the_training_plan(n_train, batch, plan):
    """Issue 23 item 6: 3 full batches plus the plan's partial one; chunks of 2 steps (so a graph
    is replayed with advancing offsets) where training replays a chunk (batch 1: 94 replays)."""
    from netlab.cuda.selfcheck import check_plan

    assert check_plan(n_train, batch) == plan


def test_training_falls_back_to_eager_with_a_notice_or_fails_when_graph_is_forced(
    standin, monkeypatch
):
    monkeypatch.setattr(K, "Kernels", RoundsGridDown)
    cfg = with_overrides(Config(), {"data.source": "sample", "training.epochs": 1})
    events = []
    fallback = train(cfg, device="cuda", progress=events.append)
    notes = [e.text for e in events if isinstance(e, Notice)]
    assert len(notes) == 1 and notes[0].startswith("graph mode failed its self-check (W2 after 4")
    assert notes[0].endswith("; training eagerly on CUDA")
    eager = train(cfg, device="cuda", graph=False)  # what the fallback trained: the eager path
    np.testing.assert_array_equal(fallback.model.flat, eager.model.flat)
    with pytest.raises(netlab.BackendError, match="graph mode failed its self-check against eager"):
        train(cfg, device="cuda", graph=True)
