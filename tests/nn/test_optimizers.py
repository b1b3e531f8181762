import math

import numpy as np
import pytest

import netlab
from netlab.errors import ConfigError
from netlab.nn.optimizers import OPTIMIZERS, SGD, make_optimizer


def make(n_weights=4, n=6, **kw):
    be = netlab.get_backend("cpu", "float64")
    flat = np.arange(1.0, n + 1)
    grad = np.zeros(n)
    return flat, grad, SGD(flat, grad, n_weights, backend=be, **kw)


def test_classical_momentum_with_l2_matches_formula():
    flat, grad, opt = make(lr=0.1, momentum=0.9, l2=0.01)
    w, v = flat.copy(), np.zeros(6)
    rng = np.random.default_rng(0)
    buffer_id = id(flat)
    for _ in range(3):
        g = rng.standard_normal(6)
        grad[:] = g
        opt.step()
        g = g.copy()
        g[:4] += 2 * 0.01 * w[:4]  # L2 on weights only
        v = 0.9 * v - 0.1 * g
        w = w + v
        np.testing.assert_allclose(flat, w, rtol=1e-14)
    assert id(flat) == buffer_id and opt.flat is flat  # in place


def test_nesterov_matches_formula():
    flat, grad, opt = make(lr=0.05, momentum=0.8, nesterov=True)
    w, v = flat.copy(), np.zeros(6)
    for k in range(3):
        g = np.full(6, 1.0 + k)
        grad[:] = g
        opt.step()
        v = 0.8 * v - 0.05 * g
        w = w + 0.8 * v - 0.05 * g
        np.testing.assert_allclose(flat, w, rtol=1e-14)


def test_plain_sgd():
    flat, grad, opt = make(lr=0.5)
    grad[:] = 2.0
    before = flat.copy()
    opt.step()
    np.testing.assert_allclose(flat, before - 1.0)


@pytest.mark.parametrize(
    "kw", [{"lr": 0.0}, {"lr": -1.0}, {"lr": 0.1, "momentum": 1.0}, {"lr": 0.1, "l2": -1.0}]
)
def test_bad_hyperparameters(kw):
    with pytest.raises(ConfigError):
        make(**kw)


def test_cosine_schedule_values_and_constant():
    from netlab.nn.schedules import scheduled_lr

    assert scheduled_lr("constant", 0.1, 7, 10) == 0.1
    assert scheduled_lr("cosine", 0.1, 1, 10) == 0.1
    assert scheduled_lr("cosine", 0.1, 6, 10) == pytest.approx(0.05)
    assert scheduled_lr("cosine", 0.1, 10, 10) == pytest.approx(
        0.1 * (1 + math.cos(0.9 * math.pi)) / 2
    )
    lrs = [scheduled_lr("cosine", 1.0, e, 20) for e in range(1, 21)]
    assert all(a > b > 0 for a, b in zip(lrs, lrs[1:], strict=False))
    with pytest.raises(ConfigError, match="unknown schedule 'step'"):
        scheduled_lr("step", 0.1, 1, 10)


# ------------------------------------------------ the registry: every optimizer the same way


def adam_reference(w, grads, lr, b1, b2, eps, l2=0.0, wd=0.0, n_weights=4):
    """Adam / AdamW in float64, straight from the papers (bias-corrected moments)."""
    w = w.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g.copy()
        g[:n_weights] += 2 * l2 * w[:n_weights]
        w[:n_weights] -= lr * wd * w[:n_weights]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        w -= lr * mhat / (np.sqrt(vhat) + eps)
    return w


@pytest.mark.parametrize("name,kw", [("adam", {"l2": 0.01}), ("adamw", {"weight_decay": 0.1})])
def test_adam_family_matches_the_formula(name, kw):
    be = netlab.get_backend("cpu", "float64")
    flat, grad = np.arange(1.0, 7.0), np.zeros(6)
    opt = OPTIMIZERS.get(name)(flat, grad, 4, lr=0.01, backend=be, **kw)
    grads = [np.random.default_rng(k).standard_normal(6) for k in range(5)]
    start = flat.copy()
    for g in grads:
        grad[:] = g
        opt.step()
    expected = adam_reference(start, grads, 0.01, 0.9, 0.999, 1e-8, kw.get("l2", 0.0),
                              kw.get("weight_decay", 0.0))  # fmt: skip
    np.testing.assert_allclose(flat, expected, rtol=1e-12)
    assert opt.steps == 5 and set(opt.state) == {"m", "v"}


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_declares_its_settings_and_state(name):
    cls = OPTIMIZERS.get(name)
    assert cls.default_lr > 0 and cls.summary
    assert all(isinstance(b, str) for b in cls.buffers)
    assert cls.cuda is None or "void update(" in cls.cuda
    from netlab.schema import FIELDS

    assert set(cls.hyper) <= set(FIELDS["training"])  # each setting is a config field


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_state_round_trips_bit_for_bit(name):
    """Two optimizers, one restored from the other's state after 3 steps, stay identical."""
    be = netlab.get_backend("cpu", "float32")
    model = netlab.MLP([5, 4, 3], "tanh", rng=np.random.default_rng(0), backend=be)
    twin = netlab.MLP([5, 4, 3], "tanh", rng=np.random.default_rng(0), backend=be)
    a = make_optimizer(name, model, None, {})
    b = make_optimizer(name, twin, None, {})
    rng = np.random.default_rng(1)
    for step in range(6):
        g = rng.standard_normal(model.flat.shape).astype(np.float32)
        if step == 3:  # restore b from a, as a checkpoint would
            twin.flat[...] = model.flat
            for k in a.state:
                b.state[k][...] = a.state[k]
            b.steps = a.steps
        model.grad_flat[...] = g
        a.step()
        if step >= 3:
            twin.grad_flat[...] = g
            b.step()
    assert np.array_equal(model.flat, twin.flat)


def test_default_learning_rates_and_unknown_settings():
    assert OPTIMIZERS.get("sgd").default_lr == 0.012 and OPTIMIZERS.get("adam").default_lr == 1e-3
    be = netlab.get_backend("cpu", "float64")
    with pytest.raises(ConfigError, match="adam takes no momentum"):
        OPTIMIZERS.get("adam")(np.zeros(3), np.zeros(3), 2, lr=0.1, backend=be, momentum=0.9)
    with pytest.raises(ConfigError, match="unknown optimizer 'rmsprop'"):
        OPTIMIZERS.get("rmsprop")
