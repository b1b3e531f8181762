"""Stacks (nn/stack.py) on the CUDA backend: the plain CuPy path, with no custom kernels (graph
mode does not capture a stack). Here through the stand-in; on a GPU (cuda-marked) against the
same runs trained alone there, within float32's tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from netlab.config import Config, with_overrides
from netlab.training.run import train
from netlab.training.stack import train_stack


def configs(dtype="float64"):
    base = {"data.source": "sample", "training.epochs": 2, "training.dtype": dtype,
            "model.hidden": [16, 12], "training.dropout": 0.1}  # fmt: skip
    return [with_overrides(Config(), {**base, "training.l2": v, "training.seed": s})
            for v, s in ((0.0, 0), (1e-3, 0), (0.0, 1))]  # fmt: skip


def test_a_stack_on_the_cuda_backend_trains_as_on_the_cpu(standin):
    on_cpu = train_stack(configs(), device="cpu")
    on_cuda = train_stack(configs(), device="cuda")
    for a, b in zip(on_cuda, on_cpu, strict=True):
        assert a.backend.name == "cuda"
        np.testing.assert_allclose(a.model.flat, b.model.flat, rtol=0, atol=1e-12)
        assert a.fit.history[-1]["val_loss"] == pytest.approx(b.fit.history[-1]["val_loss"])


@pytest.mark.cuda
def test_a_stack_on_a_gpu_equals_its_runs_alone_there():
    cfgs = configs("float32")
    for stacked, config in zip(train_stack(cfgs, device="cuda"), cfgs, strict=True):
        alone = train(config, device="cuda", graph=False)
        scale = float(np.abs(alone.model.flat).max())
        assert float(np.abs(stacked.model.flat - alone.model.flat).max()) <= 1e-4 * scale
        assert stacked.val.accuracy == pytest.approx(alone.val.accuracy, abs=2e-3)
