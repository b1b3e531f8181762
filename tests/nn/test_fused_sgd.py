"""The CPU's fused SGD step at batch 1 (nn/fused_sgd.py) against SGD's NumPy passes: bit for bit.

The fused step runs compiled where Numba is installed and as plain Python otherwise (slowly: so
these tests use small models); either way it must give the NumPy path's numbers exactly, for a
model alone and for stacks, from the first layer's gradient as its factors (nn/factors.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import netlab
from netlab.nn import compiled
from netlab.nn.fused_sgd import fused_step
from netlab.nn.layers import MLP
from netlab.nn.losses import softmax_cross_entropy
from netlab.nn.optimizers import Optimizer, make_optimizer
from netlab.nn.stack import MLPStack, stacked_optimizer

SIZES = [6, 5, 4, 3]

SETTINGS = [
    {"momentum": 0.9, "l2": 0.0},
    {"momentum": 0.9, "l2": 1e-3},
    {"momentum": 0.0, "l2": 1e-3},
    {"momentum": 0.0, "l2": 0.0},
    {"momentum": 0.8, "nesterov": True, "l2": 1e-3},
]


def _data(dtype, n=12, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, SIZES[0])).astype(dtype)
    X[X < -0.5] = 0.0  # zeros in the input, as in images
    return X, rng.integers(0, SIZES[-1], n)


def _solo(be, settings, seed=0):
    model = MLP(SIZES, "relu", backend=be, rng=np.random.default_rng(seed))
    return model, make_optimizer("sgd", model, 0.05, settings)


def _step(opt, backward, dlogits, fused):
    """The NumPy path (backward writes every gradient, SGD.update's passes) or the fused step."""
    if not fused:
        assert backward(dlogits) is None
        Optimizer.step(opt)  # SGD.update's NumPy passes, Numba or not
        return
    factors = backward(dlogits, first_factors=True)
    opt.steps += 1
    fused_step(opt, factors)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_a_model_alone_trains_bit_for_bit_as_with_numpy(dtype, settings):
    be = netlab.get_backend("cpu", dtype)
    X, y = _data(dtype)
    runs = [_solo(be, settings) for _ in range(2)]
    for i in range(len(X)):
        for fused, (model, opt) in enumerate(runs):
            logits, backward = model.forward(X[i : i + 1])
            _, dlogits = softmax_cross_entropy(logits, y[i : i + 1], need_loss=False)
            _step(opt, backward, dlogits, fused)
    (m_np, o_np), (m_fu, o_fu) = runs
    np.testing.assert_array_equal(m_fu.flat, m_np.flat)
    np.testing.assert_array_equal(o_fu.velocity, o_np.velocity)
    assert not np.array_equal(m_fu.flat, _solo(be, settings)[0].flat)  # it did train


def _stack(be, lrs, settings):
    states = [MLP(SIZES, "relu", backend=be, rng=np.random.default_rng(k)).state()
              for k in range(len(lrs))]  # fmt: skip
    stack = MLPStack(SIZES, "relu", states, backend=be)
    return stack, stacked_optimizer("sgd", stack, lrs, settings)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shared", [True, False], ids=["one-batch", "a-batch-each"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_a_stack_of_mixed_settings_trains_bit_for_bit_as_with_numpy(dtype, shared, nesterov):
    be = netlab.get_backend("cpu", dtype)
    lrs = [0.05, 0.02, 0.05, 0.1]  # one model without momentum, two without L2
    settings = [{"momentum": m, "l2": l2, "nesterov": nesterov}
                for m, l2 in ((0.9, 0.0), (0.0, 1e-3), (0.5, 1e-3), (0.9, 0.0))]  # fmt: skip
    stacks = [_stack(be, lrs, settings) for _ in range(2)]
    K = len(lrs)
    X, y = _data(dtype, n=12 * K)
    for i in range(12):
        if shared:
            xb, yb = X[i : i + 1], y[i : i + 1]
        else:  # model k reads row k * 12 + i
            xb, yb = X[i::12][:, None], y[i::12][:, None]
        for fused, (stack, opt) in enumerate(stacks):
            logits, backward = stack.forward(xb)
            _, dlogits = softmax_cross_entropy(logits, yb, need_loss=False)
            _step(opt, backward, dlogits, fused)
    (s_np, o_np), (s_fu, o_fu) = stacks
    np.testing.assert_array_equal(s_fu.flat, s_np.flat)
    np.testing.assert_array_equal(o_fu.velocity, o_np.velocity)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shared", [True, False], ids=["one-batch", "a-batch-each"])
def test_a_stack_at_a_larger_batch_trains_bit_for_bit_as_with_numpy(dtype, shared):
    """At batch > 1 a stack's SGD.step is the loop over grad_flat (no factors) where Numba is:
    the numbers of NumPy's passes (Optimizer.step) exactly."""
    be = netlab.get_backend("cpu", dtype)
    lrs = [0.05, 0.02, 0.05]
    settings = [{"momentum": m, "l2": l2} for m, l2 in ((0.9, 0.0), (0.0, 1e-3), (0.5, 1e-3))]
    stacks = [_stack(be, lrs, settings) for _ in range(2)]
    K, B = len(lrs), 4
    X, y = _data(dtype, n=12 * K)
    for i in range(0, 12, B):
        if shared:
            xb, yb = X[i : i + B], y[i : i + B]
        else:  # model k reads rows k * 12 + i ... + B - 1
            xb, yb = X.reshape(K, 12, -1)[:, i : i + B], y.reshape(K, 12)[:, i : i + B]
        for fused, (stack, opt) in enumerate(stacks):
            logits, backward = stack.forward(xb)
            _, dlogits = softmax_cross_entropy(logits, yb, need_loss=False)
            assert backward(dlogits) is None
            opt.step() if fused else Optimizer.step(opt)
    (s_np, o_np), (s_fu, o_fu) = stacks
    np.testing.assert_array_equal(s_fu.flat, s_np.flat)
    np.testing.assert_array_equal(o_fu.velocity, o_np.velocity)
    assert not np.array_equal(s_fu.flat, _stack(be, lrs, settings)[0].flat)  # it did train


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_the_numpy_path_takes_factors_as_the_gradient_backward_writes(name):
    """Optimizer.step(factors) writes x.T @ dz into the first layer's gradient and updates as
    from a full backward: bit for bit (the fallback where nothing fuses)."""
    be = netlab.get_backend("cpu", "float32")
    X, y = _data("float32")
    models = [MLP(SIZES, "tanh", backend=be, rng=np.random.default_rng(3)) for _ in range(2)]
    opts = [make_optimizer(name, m, None, {}) for m in models]
    for i in range(len(X)):
        for deferred, (model, opt) in enumerate(zip(models, opts, strict=True)):
            logits, backward = model.forward(X[i : i + 1])
            _, dlogits = softmax_cross_entropy(logits, y[i : i + 1], need_loss=False)
            factors = backward(dlogits, first_factors=bool(deferred))
            assert (factors is not None) == bool(deferred)
            Optimizer.step(opt, factors)  # the NumPy passes (SGD.step would fuse)
    np.testing.assert_array_equal(models[1].flat, models[0].flat)


def test_backward_writes_every_gradient_unless_asked_for_factors():
    be = netlab.get_backend("cpu", "float64")
    model = MLP(SIZES, "tanh", backend=be, rng=np.random.default_rng(0))
    X, y = _data("float64")
    logits, backward = model.forward(X[:1])
    _, dlogits = softmax_cross_entropy(logits, y[:1], need_loss=False)
    model.grad_flat[:] = np.nan
    x, dz = backward(dlogits.copy(), first_factors=True)
    assert np.isnan(model.grads["W1"]).all() and np.isfinite(model.grads["b1"]).all()
    np.testing.assert_array_equal(x, X[:1])
    np.testing.assert_array_equal(model.grads["b1"], dz[0])
    expected = model.grad_flat.copy()
    expected[: x.size * dz.size] = np.outer(x, dz).ravel()
    assert backward(dlogits.copy()) is None
    np.testing.assert_array_equal(model.grad_flat, expected)


def test_sgd_fuses_at_batch_1_on_the_cpu_exactly_where_numba_is_there(monkeypatch):
    be = netlab.get_backend("cpu", "float32")
    model = MLP(SIZES, "tanh", backend=be, rng=np.random.default_rng(0))
    sgd, adam = make_optimizer("sgd", model, 0.1, {}), make_optimizer("adam", model, None, {})
    assert sgd.fuses(1) is be.compiled_loops is compiled.available()
    assert not sgd.fuses(2) and not sgd.fuses(128) and not adam.fuses(1)
    monkeypatch.setattr(compiled, "_NUMBA", None)
    assert not sgd.fuses(1) and not be.compiled_loops


@pytest.mark.parametrize("numba", [True, False], ids=["numba", "numpy-only"])
def test_sgd_steps_in_the_loop_for_stacks_and_at_batch_1_alone(monkeypatch, numba):
    """Which SGD.step takes the loop: a stack's at any batch and a model alone's with factors,
    where Numba is there; a model alone's from grad_flat (batch > 1) never (no Numba loaded)."""
    from netlab.nn import fused_sgd

    monkeypatch.setattr(compiled, "_NUMBA", compiled._NUMBA if numba else None)
    calls = []
    monkeypatch.setattr(fused_sgd, "fused_step", lambda opt, f=None: calls.append((opt, f is None)))
    be = netlab.get_backend("cpu", "float32")
    _, alone = _solo(be, {"l2": 1e-3})
    _, stacked = _stack(be, [0.05, 0.02], [{}, {}])
    X, _ = _data("float32")
    for opt, factors in ((alone, None), (stacked, None), (alone, (X[:1], X[:1, :5]))):
        opt.step(factors)
    want = [(stacked, True), (alone, False)] if numba and compiled.available() else []
    assert calls == want
    assert alone.steps == 2 and stacked.steps == 1


def test_a_batch_1_run_trains_bit_for_bit_with_and_without_numba(tmp_path):
    """Through the `netlab` command: the same model file, with and without NETLAB_NUMBA=0."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not compiled.available():
        pytest.skip("Numba is not installed (the fast extra): only the NumPy path is here")
    exe = str(Path(sys.executable).parent / "netlab")
    weights = []
    for numba in ("1", "0"):
        out = tmp_path / numba
        cmd = [exe, "train", "--data", "sample", "--epochs", "2", "--batch-size", "1",
               "--activation", "relu", "--l2", "1e-4", "--quiet", "--out", str(out)]  # fmt: skip
        env = {**os.environ, "NETLAB_NUMBA": numba}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        with np.load(out / "model.npz") as f:
            weights.append({k: f[k] for k in f.files if k.startswith(("W", "b"))})
    assert weights[0].keys() == weights[1].keys() and "W1" in weights[0]
    for name in weights[0]:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])


def test_a_model_alone_above_batch_1_never_imports_numba():
    """The memory bound of a baseline training (tests/cli/test_realdata.py) holds because SGD.step
    of a model alone from grad_flat decides before asking for the compiled loops."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, netlab\n"
        "from netlab.nn.layers import MLP\n"
        "from netlab.nn.losses import softmax_cross_entropy\n"
        "from netlab.nn.optimizers import make_optimizer\n"
        "be = netlab.get_backend('cpu', 'float32')\n"
        "m = MLP([6, 5, 3], 'tanh', backend=be, rng=np.random.default_rng(0))\n"
        "opt = make_optimizer('sgd', m, 0.1, {'l2': 1e-3})\n"
        "assert not opt.fuses(4)\n"
        "for _ in range(3):\n"
        "    logits, backward = m.forward(np.ones((4, 6), np.float32))\n"
        "    backward(softmax_cross_entropy(logits, np.zeros(4, np.int64))[1])\n"
        "    opt.step()\n"
        "print('numba' in sys.modules, 'netlab.nn.compiled' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
