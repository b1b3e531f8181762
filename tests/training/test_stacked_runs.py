"""A run trained in a stack ends as it ends alone (training/stack.py).

Tolerance (stated in docs/stacks.md): float64, every history value and final weight within 1e-10
relative of the run alone after the runs' epochs here; float32, 1e-4 relative after one epoch (the
runs' trajectories then drift apart like those of two BLAS builds).
"""

import numpy as np
import pytest

from netlab.config import Config, with_overrides
from netlab.errors import TrainingDiverged
from netlab.training.run import train
from netlab.training.stack import stack_key, train_stack

KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")


def cfg(**overrides):
    base = {"data.source": "sample", "training.epochs": 3, "training.dtype": "float64",
            "model.hidden": [16, 12]}  # fmt: skip
    base.update(overrides)
    return with_overrides(Config(), base)


def _assert_same_run(stacked, alone, rel):
    assert [r["epoch"] for r in stacked.fit.history] == [r["epoch"] for r in alone.fit.history]
    for a, b in zip(stacked.fit.history, alone.fit.history, strict=True):
        for key in KEYS:
            assert a[key] == pytest.approx(b[key], rel=rel, abs=1e-300), key
    assert stacked.fit.best_epoch == alone.fit.best_epoch
    assert stacked.fit.stopped_early == alone.fit.stopped_early
    scale = np.abs(alone.model.flat).max()
    assert np.abs(stacked.model.flat - alone.model.flat).max() <= rel * scale
    assert stacked.val.accuracy == pytest.approx(alone.val.accuracy, rel=rel)
    assert stacked.test.loss == pytest.approx(alone.test.loss, rel=rel)


SWEEPS = {
    "l2 sweep, one seed (shared batches)": [cfg(**{"training.l2": v}) for v in (0.0, 1e-4, 1e-3)],
    "seeds (a batch per model)": [cfg(**{"training.seed": s}) for s in (0, 1, 2)],
    "per-model lr, momentum, schedule, dropout, init": [
        cfg(**{"training.lr": 0.05, "training.momentum": 0.0}),
        cfg(**{"training.schedule": "cosine", "training.dropout": 0.2, "model.init": "he"}),
        cfg(**{"training.input_dropout": 0.1, "training.seed": 4, "model.init": "normal"}),
    ],
    "early stopping and epochs leave the stack": [
        cfg(
            **{
                "training.epochs": 8,
                "training.patience": 1,
                "training.lr": 0.3,
                "training.monitor": "val_loss",
            }
        ),
        cfg(**{"training.epochs": 2}),
        cfg(**{"training.epochs": 5, "training.seed": 3}),
    ],  # fmt: skip
    "adam": [cfg(**{"training.optimizer": "adam", "training.l2": v}) for v in (0.0, 1e-3)],
    "adamw, batch 1": [
        cfg(
            **{
                "training.optimizer": "adamw",
                "training.batch_size": 1,
                "training.epochs": 1,
                "training.weight_decay": v,
                "data.val_fraction": 0.9,
            }
        )
        for v in (0.0, 0.1)
    ],  # fmt: skip
}


@pytest.mark.parametrize("name", list(SWEEPS))
def test_each_stacked_run_equals_its_run_alone_float64(name):
    configs = SWEEPS[name]
    assert len({stack_key(c) for c in configs}) == 1
    for stacked, config in zip(train_stack(configs), configs, strict=True):
        _assert_same_run(stacked, train(config), 1e-10)


def test_float32_stack_after_one_epoch():
    configs = [cfg(**{"training.dtype": "float32", "training.epochs": 1, "training.l2": v})
               for v in (0.0, 1e-3)]  # fmt: skip
    for stacked, config in zip(train_stack(configs), configs, strict=True):
        _assert_same_run(stacked, train(config), 1e-4)


def test_a_diverging_run_fails_as_alone_and_the_others_are_unchanged():
    configs = [
        cfg(**{"training.lr": 1e6, "model.init": "normal"}),
        cfg(),
        cfg(**{"training.seed": 1}),
    ]
    results = train_stack(configs)
    with pytest.raises(TrainingDiverged) as alone:
        train(configs[0])
    assert isinstance(results[0], TrainingDiverged)
    assert str(results[0]) == str(alone.value)
    for stacked, config in zip(results[1:], configs[1:], strict=True):
        _assert_same_run(stacked, train(config), 1e-10)


def test_what_cannot_stack():
    assert stack_key(cfg(**{"training.augment": ["flip"]})) is None
    assert stack_key(cfg()) != stack_key(cfg(**{"model.hidden": [16]}))
    assert stack_key(cfg()) != stack_key(cfg(**{"training.nesterov": True}))
    assert stack_key(cfg()) == stack_key(cfg(**{"training.l2": 1.0, "training.seed": 5,
                                                "training.epochs": 7}))  # fmt: skip
