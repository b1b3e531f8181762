import numpy as np
import pytest

import netlab
from netlab.errors import ConfigError
from netlab.nn.activations import ACTIVATIONS
from netlab.nn.layers import MLP, linear_backward, linear_forward
from netlab.training.gradcheck import gradcheck

NAMES = ACTIVATIONS.names()


def test_linear_forward_backward_formulas():
    rng = np.random.default_rng(0)
    x, W, b, dy = rng.random((4, 3)), rng.random((3, 2)), rng.random(2), rng.random((4, 2))
    np.testing.assert_allclose(linear_forward(x, W, b), x @ W + b)
    dW, db = np.empty_like(W), np.empty_like(b)
    dx = linear_backward(x, W, dy, dW, db)
    np.testing.assert_allclose(dW, x.T @ dy)
    np.testing.assert_allclose(db, dy.sum(0))
    np.testing.assert_allclose(dx, dy @ W.T)
    assert linear_backward(x, W, dy, dW, db, need_dx=False) is None


def test_parameter_names_shapes_and_flat_views(backend):
    m = MLP([6, 5, 4, 3], "tanh", rng=np.random.default_rng(0), backend=backend)
    assert list(m.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert [m.params[k].shape for k in m.params] == [(6, 5), (5, 4), (4, 3), (5,), (4,), (3,)]
    assert m.n_params == 6 * 5 + 5 * 4 + 4 * 3 + 5 + 4 + 3 and m.n_weights == 62
    m.flat[:] = 1.0  # params are views of flat
    assert float(m.params["b3"].sum()) == 3.0


def test_init_distributions():
    be = netlab.get_backend("cpu", "float64")
    normal = MLP([400, 300, 10], init="normal", rng=np.random.default_rng(0), backend=be)
    w = normal.params["W1"]
    assert (
        abs(w.mean()) < 0.01
        and abs(w.std() - 1) < 0.01
        and abs(normal.params["b1"].std() - 1) < 0.3
    )
    xavier = MLP([400, 300, 10], init="xavier", rng=np.random.default_rng(0), backend=be)
    limit = np.sqrt(6 / 700)
    assert (
        np.abs(xavier.params["W1"]).max() <= limit
        and np.abs(xavier.params["W1"]).max() > 0.99 * limit
    )
    assert not xavier.params["b1"].any()
    he = MLP([400, 300, 10], init="he", rng=np.random.default_rng(0), backend=be)
    assert abs(he.params["W1"].std() - np.sqrt(2 / 400)) < 0.002
    with pytest.raises(ConfigError, match="unknown init"):
        MLP([4, 2], init="orthogonal", rng=np.random.default_rng(0), backend=be)


def test_same_seed_same_weights_and_host_init(backend):
    a = MLP([8, 4, 3], rng=np.random.default_rng(7), backend=backend)
    b = MLP(
        [8, 4, 3], rng=np.random.default_rng(7), backend=netlab.get_backend("cpu", backend.dtype)
    )
    for k in a.params:
        np.testing.assert_array_equal(backend.to_numpy(a.params[k]), b.params[k])


@pytest.mark.parametrize("sizes", [[5], [], [4, 0, 2], [4, 2.5, 2]])
def test_bad_sizes_rejected(sizes):
    with pytest.raises(ConfigError):
        MLP(sizes, rng=np.random.default_rng(0), backend=netlab.get_backend("cpu"))


def test_backward_overwrites_gradients():
    be = netlab.get_backend("cpu", "float64")
    m = MLP([5, 4, 3], rng=np.random.default_rng(0), backend=be)
    x, labels = np.random.default_rng(1).random((6, 5)), np.array([0, 1, 2, 0, 1, 2])
    grads = []
    for _ in range(2):
        logits, backward = m.forward(x)
        _, d = netlab.softmax_cross_entropy(logits, labels)
        backward(d)
        grads.append(m.grad_flat.copy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_forward_closures_are_independent():
    """A second forward does not clobber what the first one's backward needs."""
    be = netlab.get_backend("cpu", "float64")
    m = MLP([5, 4, 3], rng=np.random.default_rng(0), backend=be)
    x1, x2 = np.random.default_rng(1).random((6, 5)), np.random.default_rng(2).random((6, 5))
    labels = np.arange(6) % 3
    logits1, back1 = m.forward(x1)
    m.forward(x2)
    back1(netlab.softmax_cross_entropy(logits1, labels)[1])
    first = m.grad_flat.copy()
    logits1b, back1b = m.forward(x1)
    back1b(netlab.softmax_cross_entropy(logits1b, labels)[1])
    np.testing.assert_array_equal(first, m.grad_flat)


@pytest.mark.parametrize("l2", [0.0, 1e-2])
@pytest.mark.parametrize("activation", NAMES)
def test_gradients_match_numerical_for_every_activation(activation, l2, backend64):
    m = MLP(
        [12, 9, 7, 5], activation, leaky_slope=0.05, rng=np.random.default_rng(3), backend=backend64
    )
    x = backend64.asarray(np.random.default_rng(4).standard_normal((10, 12)))
    labels = backend64.asarray(np.arange(10) % 5)
    report = gradcheck(m, x, labels, l2=l2)
    assert report.passed, report.to_dict()
    assert report.max_rel_error < 1e-6
    assert sum(t.checked for t in report.tensors) == m.n_params  # every entry of a small net


def test_input_gradient_available():
    be = netlab.get_backend("cpu", "float64")
    m = MLP([4, 3, 2], rng=np.random.default_rng(0), backend=be)
    x = np.random.default_rng(1).random((2, 4))
    logits, backward = m.forward(x, need_input_grad=True)
    dx = backward(netlab.softmax_cross_entropy(logits, np.array([0, 1]))[1])
    assert dx.shape == x.shape


def test_absurd_sizes_are_a_config_error_not_a_crash():
    with pytest.raises(ConfigError, match=r"integers in \[1, 1000000\]"):
        MLP([784, 10**12, 10], rng=np.random.default_rng(0), backend=netlab.get_backend("cpu"))
    with pytest.raises(ConfigError, match="at most 2\\*\\*31"):
        MLP(
            [784, 999_999, 999_999, 10],
            rng=np.random.default_rng(0),
            backend=netlab.get_backend("cpu"),
        )


@pytest.mark.parametrize("activation", NAMES)
def test_dropout_backward_matches_numerical_with_the_same_mask(activation):
    """With the masks fixed (the same rng state for every forward), backprop through dropout
    equals central differences of the loss."""
    from netlab.nn.losses import softmax_cross_entropy

    be = netlab.get_backend("cpu", "float64")
    rng = np.random.default_rng(0)
    model = MLP([6, 7, 5, 3], activation, init="he", rng=rng, backend=be)
    x, labels = rng.standard_normal((4, 6)), np.array([0, 2, 1, 2])

    def loss() -> float:
        logits, _ = model.forward(x, dropout=0.4, rng=np.random.default_rng(5))
        return float(softmax_cross_entropy(logits, labels)[0])

    logits, backward = model.forward(x, dropout=0.4, rng=np.random.default_rng(5))
    backward(softmax_cross_entropy(logits, labels, need_loss=False)[1])
    for name, p in model.params.items():
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + 1e-6
            up = loss()
            p[idx] = saved - 1e-6
            down = loss()
            p[idx] = saved
            assert model.grads[name][idx] == pytest.approx((up - down) / 2e-6, abs=1e-7)


def test_dropout_masks_drop_the_right_share_and_zero_is_off():
    be = netlab.get_backend("cpu", "float32")
    model = MLP([20, 400, 10], "relu", init="he", rng=np.random.default_rng(0), backend=be)
    x = np.ones((50, 20), np.float32)
    plain = model.logits(x)
    same, _ = model.forward(x, dropout=0.0, rng=np.random.default_rng(1))
    assert np.array_equal(plain, same)
    h = np.maximum(x @ model.params["W1"] + model.params["b1"], 0)
    a, _ = model.forward(x, dropout=0.25, rng=np.random.default_rng(1))
    b, _ = model.forward(x, dropout=0.25, rng=np.random.default_rng(1))
    assert np.array_equal(a, b)  # the rng decides the masks
    keep = np.random.default_rng(1).random(h.shape, dtype=np.float32) >= 0.25
    assert abs(keep.mean() - 0.75) < 0.01
    expected = (h * keep.astype(np.float32) * np.float32(1 / 0.75)) @ model.params["W2"]
    expected += model.params["b2"]
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-5)
