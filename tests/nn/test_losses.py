import numpy as np
import pytest

from netlab.errors import ConfigError
from netlab.nn.losses import log_softmax, softmax_cross_entropy


def reference(logits, labels):
    logits = np.asarray(logits, dtype=np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n = len(labels)
    loss = -np.log(p[np.arange(n), labels]).mean()
    onehot = np.eye(logits.shape[1])[labels]
    return loss, (p - onehot) / n


def test_matches_formula(backend):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((16, 10)) * 3
    labels = rng.integers(0, 10, 16)
    x = backend.asarray(logits, dtype=backend.dtype)
    loss, d = softmax_cross_entropy(x, backend.asarray(labels))
    ref_loss, ref_d = reference(logits, labels)
    tol = 1e-5 if backend.dtype == np.float32 else 1e-12
    assert abs(backend.to_float(loss) - ref_loss) < tol * 10
    np.testing.assert_allclose(backend.to_numpy(d), ref_d, atol=tol)
    assert d.dtype == backend.dtype
    np.testing.assert_array_equal(backend.to_numpy(x), logits.astype(backend.dtype))  # input intact


def test_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-5000.0, 5000.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss, d = softmax_cross_entropy(logits, np.array([0, 0]))
    assert np.isfinite(float(loss)) and np.all(np.isfinite(d))
    assert float(loss) == pytest.approx(5000.0)  # (0 + 10000) / 2
    np.testing.assert_allclose(log_softmax(logits)[0], [0.0, -1000.0, -2000.0])


def test_classes_batch_normalization_divides_gradient_by_classes():
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((8, 10)), rng.integers(0, 10, 8)
    loss_a, d_a = softmax_cross_entropy(logits, labels, "batch")
    loss_b, d_b = softmax_cross_entropy(logits, labels, "classes_batch")
    assert float(loss_a) == float(loss_b)  # reported loss is always the mean cross-entropy
    np.testing.assert_allclose(d_b, d_a / 10)


def test_need_loss_false_and_bad_norm():
    logits, labels = np.zeros((2, 3)), np.array([0, 2])
    loss, d = softmax_cross_entropy(logits, labels, need_loss=False)
    assert loss is None and d.shape == (2, 3)
    with pytest.raises(ConfigError, match="loss normalization"):
        softmax_cross_entropy(logits, labels, "sum")
