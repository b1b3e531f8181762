"""A stack of K models computes what each model computes alone (nn/stack.py).

Tolerance: float64, relative 1e-12 of the largest entry after a few steps (a stack's GEMMs are
blocked differently from the model alone's, so the last bits may differ; with batch 1 the weight
gradients are exact products); float32: relative 1e-5.
"""

import numpy as np
import pytest

import netlab
from netlab.errors import ConfigError
from netlab.nn import backend as backend_module
from netlab.nn.activations import ACTIVATIONS
from netlab.nn.layers import MLP
from netlab.nn.losses import softmax_cross_entropy
from netlab.nn.optimizers import OPTIMIZERS, make_optimizer
from netlab.nn.row_blocks import row_blocks
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
    grads: list = [None] * (K + 1)  # each model's and the stack's last gradients, before the step
    for step in range(steps):
        rows = slice(step * batch, (step + 1) * batch)
        for k, (m, o) in enumerate(zip(solos, opts, strict=True)):
            xk = X[0 if shared else k, rows]
            logits, back = m.forward(xk, dropout=ps[k], rng=rngs_solo[k])
            _, d = softmax_cross_entropy(logits, y[0 if shared else k, rows])
            back(d)
            grads[k] = m.grad_flat.copy()
            o.step()  # may overwrite grad_flat (SGD's NumPy passes do, its fused loop not)
        xs = X[0, rows] if shared else X[:, rows]
        ys = y[0, rows] if shared else y[:, rows]
        logits, back = stack.forward(xs, dropout=ps, rngs=rngs_stack)
        _, d = softmax_cross_entropy(logits, ys)
        back(d)
        grads[K] = stack.grad_flat.copy()
        sopt.step()
    return solos, stack, grads


def _rows_at_a_time(monkeypatch, rows):
    """Make the CPU backend ask for updates of a stack's rows `rows` at a time (None: all)."""
    monkeypatch.setattr(backend_module.Backend, "row_block", lambda self, row_bytes: rows)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("opt_name", STACKABLE)
@pytest.mark.parametrize("rows", [None, 1])
def test_each_model_of_a_stack_trains_as_alone(opt_name, batch, shared, dtype, rows, monkeypatch):
    _rows_at_a_time(monkeypatch, rows)
    solos, stack, grads = _train(opt_name, dtype, 3, shared, batch)
    for k, m in enumerate(solos):
        _close(stack.flat[k], m.flat, dtype)
        _close(grads[-1][k], grads[k], dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
def test_every_activation_and_dropout_stack(activation):
    solos, stack, _ = _train("sgd", "float64", 3, True, 8, activation=activation, dropout=True)
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


@pytest.mark.parametrize("opt_name", STACKABLE)
def test_a_stack_updated_rows_at_a_time_equals_one_update_of_all_rows(opt_name, monkeypatch):
    """The CPU updates a large stack a few rows at a time (Backend.row_block, to stay in cache):
    bit for bit the update of all rows at once, across a new epoch's lr and rows leaving."""
    be = netlab.get_backend("cpu", "float64")
    rng = np.random.default_rng(3)
    P = MLPStack(SIZES, "tanh", [m.state() for m in _models(be, 1)], backend=be).flat.shape[1]
    grads = rng.standard_normal((6, 4, P))
    ends = {}
    for rows in (None, 1, 2):
        _rows_at_a_time(monkeypatch, rows)
        stack = MLPStack(SIZES, "tanh", [m.state() for m in _models(be, 4)], backend=be)
        opt = stacked_optimizer(opt_name, stack, [0.01 * (k + 1) for k in range(4)],
                                [_settings(opt_name, k) for k in range(4)])  # fmt: skip
        assert len(row_blocks(opt)) == (1 if rows is None else -(-4 // rows))
        for step, g in enumerate(grads):
            if step == 3:  # a new epoch's learning rates, then model 1 leaves the stack
                opt.lr = opt.lr * 0.5
                keep = [0, 2, 3]
                stack = stack.select(keep)
                opt.flat, opt.grad_flat = stack.flat, stack.grad_flat
                opt.state = {n: b[keep] for n, b in opt.state.items()}
                for key in ("lr", *opt.hyper):
                    if isinstance(getattr(opt, key), np.ndarray):
                        setattr(opt, key, getattr(opt, key)[keep])
            stack.grad_flat[...] = g[: stack.K]
            opt.step()
        # SGD's velocity is never read where momentum is 0 (the row's weights move by -lr*g
        # either way; a block of such rows alone skips it, as a model alone does)
        used = np.asarray(getattr(opt, "momentum", np.ones((stack.K, 1)))).ravel() != 0
        ends[rows] = (stack.flat.copy(), {n: b[used] for n, b in opt.state.items()})
    for rows in (1, 2):
        assert np.array_equal(ends[rows][0], ends[None][0])
        assert all(np.array_equal(ends[rows][1][n], ends[None][1][n]) for n in ends[None][1])


def test_the_cpu_updates_as_many_rows_as_fit_its_cache_budget_and_cuda_all_at_once():
    cpu = netlab.get_backend("cpu")
    budget = backend_module.CPU_ROW_BLOCK_BYTES
    assert cpu.row_block(budget // 2) == 2
    assert cpu.row_block(budget * 10) == 1
    cuda = backend_module.Backend("cuda", np, "cuda:0", np.dtype(np.float32))
    assert cuda.row_block(1000) is None
