"""A stack of K models computes what each model computes alone (nn/stack.py).

Tolerance: float64, relative 1e-12 of the largest entry after a few steps (a stack's GEMMs are
blocked differently from the model alone's, so the last bits may differ; with batch 1 the weight
gradients are exact products); float32: relative 1e-5.
"""

import numpy as np
import pytest

import netlab
from netlab.errors import ConfigError
from netlab.nn.activations import ACTIVATIONS
from netlab.nn.layers import MLP
from netlab.nn.losses import softmax_cross_entropy
from netlab.nn.optimizers import OPTIMIZERS, make_optimizer
from netlab.nn.stack import MLPStack, stacked_optimizer

SIZES = [12, 7, 5, 3]
TOL = {"float64": 1e-12, "float32": 1e-5}
STACKABLE = [n for n in OPTIMIZERS.names() if OPTIMIZERS.get(n).stackable]


def _close(a, b, dtype):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(b).max(), 1e-30)
    assert np.abs(a - b).max() <= TOL[dtype] * scale, np.abs(a - b).max() / scale


def _models(be, K, activation="tanh", seed=0):
    return [MLP(SIZES, activation, init="normal" if k % 2 else "xavier",
                rng=np.random.default_rng(seed + k), backend=be) for k in range(K)]  # fmt: skip


def _settings(name, k):
    """Per-model settings that differ across the stack (model 0 with none of the extras)."""
    if name == "sgd":
        return {"momentum": 0.0 if k == 0 else 0.5 + 0.1 * k, "l2": 1e-3 * k}
    if name == "adam":
        return {"beta1": 0.8 + 0.05 * k, "l2": 1e-3 * k}
    if name == "adamw":
        return {"beta2": 0.99 + 0.002 * k, "weight_decay": 0.01 * k}
    return {}


def _train(opt_name, dtype, K, shared, batch, activation="tanh", dropout=False, steps=4):
    be = netlab.get_backend("cpu", dtype)
    data = np.random.default_rng(9)
    X = be.asarray(data.standard_normal((K, 40, SIZES[0])), dtype=be.dtype)
    y = be.asarray(data.integers(0, SIZES[-1], (K, 40)))
    solos = _models(be, K, activation)
    stack = MLPStack(SIZES, activation, [m.state() for m in solos], backend=be,
                     inits=[m.init for m in solos])  # fmt: skip
    lrs = [0.05 * (k + 1) for k in range(K)]
    ps = [0.0 if k == 0 else 0.1 * k for k in range(K)] if dropout else [0.0] * K
    opts = [make_optimizer(opt_name, m, lrs[k], _settings(opt_name, k))
            for k, m in enumerate(solos)]  # fmt: skip
    sopt = stacked_optimizer(opt_name, stack, lrs, [_settings(opt_name, k) for k in range(K)])
    rngs_solo = [np.random.default_rng(100 + k) for k in range(K)]
    rngs_stack = [np.random.default_rng(100 + k) for k in range(K)]
    for step in range(steps):
        rows = slice(step * batch, (step + 1) * batch)
        for k, (m, o) in enumerate(zip(solos, opts, strict=True)):
            xk = X[0 if shared else k, rows]
            logits, back = m.forward(xk, dropout=ps[k], rng=rngs_solo[k])
            _, d = softmax_cross_entropy(logits, y[0 if shared else k, rows])
            back(d)
            o.step()
        xs = X[0, rows] if shared else X[:, rows]
        ys = y[0, rows] if shared else y[:, rows]
        logits, back = stack.forward(xs, dropout=ps, rngs=rngs_stack)
        _, d = softmax_cross_entropy(logits, ys)
        back(d)
        sopt.step()
    return solos, stack


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("opt_name", STACKABLE)
def test_each_model_of_a_stack_trains_as_alone(opt_name, batch, shared, dtype):
    solos, stack = _train(opt_name, dtype, 3, shared, batch)
    for k, m in enumerate(solos):
        _close(stack.flat[k], m.flat, dtype)
        _close(stack.grad_flat[k], m.grad_flat, dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
def test_every_activation_and_dropout_stack(activation):
    solos, stack = _train("sgd", "float64", 3, True, 8, activation=activation, dropout=True)
    for k, m in enumerate(solos):
        _close(stack.flat[k], m.flat, "float64")


def test_members_view_the_stack_and_write_model_states():
    be = netlab.get_backend("cpu", "float64")
    solos = _models(be, 2)
    stack = MLPStack(SIZES, "tanh", [m.state() for m in solos], backend=be)
    member = stack.member(1)
    assert np.shares_memory(member.flat, stack.flat)
    assert all(np.array_equal(member.state()[n], solos[1].state()[n]) for n in solos[1].params)
    assert stack.params["W1"].shape == (2, SIZES[0], SIZES[1])
    assert np.shares_memory(stack.params["W2"], stack.flat)
    kept = stack.select([1])
    assert kept.K == 1 and np.array_equal(kept.flat[0], stack.flat[1])
    assert not np.shares_memory(kept.flat, stack.flat)


def test_stack_loss_per_model_equals_the_loss_alone():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((3, 5, 4)), rng.integers(0, 4, (3, 5))
    loss, d = softmax_cross_entropy(logits, labels, "classes_batch", smoothing=0.1)
    for k in range(3):
        lk, dk = softmax_cross_entropy(logits[k], labels[k], "classes_batch", smoothing=0.1)
        assert loss[k] == pytest.approx(float(lk), rel=1e-15)
        np.testing.assert_allclose(d[k], dk, rtol=1e-15)


def test_stacked_optimizer_checks_each_models_settings():
    be = netlab.get_backend("cpu", "float64")
    stack = MLPStack(SIZES, "tanh", [m.state() for m in _models(be, 2)], backend=be)
    with pytest.raises(ConfigError, match="momentum"):
        stacked_optimizer("sgd", stack, [0.1, 0.1], [{}, {"momentum": 1.5}])
    with pytest.raises(ConfigError, match="share nesterov"):
        stacked_optimizer("sgd", stack, [0.1, 0.1], [{"nesterov": True}, {}])
