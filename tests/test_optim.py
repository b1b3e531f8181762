import math

import numpy as np
import pytest

import netlab
from netlab.errors import ConfigError
from netlab.optim import SGD


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
    from netlab.optim import scheduled_lr

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
