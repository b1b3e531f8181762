"""Opt-in regularizers: image augmentation, input dropout and label smoothing."""

from __future__ import annotations

import numpy as np
import pytest

import netlab
from netlab.config import Config, with_overrides
from netlab.errors import ConfigError
from netlab.nn.losses import softmax_cross_entropy
from netlab.training.augment import Augmenter
from netlab.training.run import train


def _image(side=28):
    return np.arange(side * side, dtype=np.float64).reshape(1, -1) + 1.0


class _Fixed:
    """A generator stand-in that always draws `pick` (augmentation variant index)."""

    def __init__(self, pick):
        self.pick = pick

    def integers(self, lo, hi, n):
        return np.full(n, self.pick)


def test_shift_moves_the_image_and_fills_with_the_black_pixel():
    be = netlab.get_backend("cpu", "float64")
    aug = Augmenter(("shift",), 784, np.full(784, -7.0), be)
    assert aug.n_variants == 25
    x = _image()
    img = x.reshape(28, 28)
    # variant index = (dy + 2) * 5 + (dx + 2); dy = 1, dx = -2: down one row, left two columns
    out = aug.apply(x, _Fixed((1 + 2) * 5 + 0)).reshape(28, 28)
    np.testing.assert_array_equal(out[1:, :-2], img[:-1, 2:])
    assert np.all(out[0, :] == -7.0) and np.all(out[:, -2:] == -7.0)
    same = aug.apply(x, _Fixed(2 * 5 + 2))  # dy = dx = 0
    np.testing.assert_array_equal(same, x)


def test_flip_mirrors_left_right_and_per_pixel_fill_is_used():
    be = netlab.get_backend("cpu", "float64")
    fill = np.linspace(-1, 1, 784)
    aug = Augmenter(("flip", "shift"), 784, fill, be)
    assert aug.n_variants == 50
    x = _image()
    flipped = aug.apply(x, _Fixed(25 + 12))  # flip, no shift
    np.testing.assert_array_equal(flipped.reshape(28, 28), x.reshape(28, 28)[:, ::-1])
    shifted = aug.apply(x, _Fixed(25 + 0)).reshape(-1)  # flip, dy = dx = -2
    outside = aug.maps[25] == 784
    np.testing.assert_array_equal(shifted[outside], fill[outside])


def test_augmentation_needs_square_images():
    with pytest.raises(ConfigError, match="square images"):
        Augmenter(("shift",), 20, np.zeros(20), netlab.get_backend("cpu"))


def test_label_smoothing_gradient_is_softmax_minus_the_smoothed_target():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    loss, grad = softmax_cross_entropy(logits, labels, smoothing=0.2)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    target = np.full((6, 4), 0.2 / 4)
    target[np.arange(6), labels] += 0.8
    np.testing.assert_allclose(grad, (p - target) / 6, rtol=1e-12)
    plain, _ = softmax_cross_entropy(logits, labels)
    assert loss == pytest.approx(float(plain))  # the reported loss stays the plain CE


def test_each_regularizer_trains_reproducibly_and_keeps_split_and_order():
    base = with_overrides(
        Config(), {"data.source": "sample", "training.epochs": 2, "model.hidden": (32,)}
    )
    plain = train(base)
    for key, value in [
        ("training.augment", ["shift", "flip"]),
        ("training.input_dropout", 0.1),
        ("training.label_smoothing", 0.1),
    ]:
        cfg = with_overrides(base, {key: value})
        a, b = train(cfg), train(cfg)
        np.testing.assert_array_equal(a.model.flat, b.model.flat)  # same seed, same numbers
        assert not np.array_equal(a.model.flat, plain.model.flat), key
        assert a.data.file_rows.tolist() == plain.data.file_rows.tolist()
        assert a.test.accuracy > 0.6, key
