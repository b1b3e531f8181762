"""Every registered activation, against its own reference formula (the table is the registry: a new
entry is covered with no edit here)."""

import numpy as np
import pytest

from netlab.errors import ConfigError
from netlab.nn.activations import ACTIVATIONS, get_activation, reference

NAMES = ACTIVATIONS.names()
Z = np.array([[-30.0, -2.0, -0.5, -1e-3, 0.0], [1e-3, 0.5, 2.0, 30.0, -700.0]])


def test_the_study_and_the_additions_are_registered():
    assert {"tanh", "sigmoid", "relu", "leaky_relu", "gelu", "silu"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_formula_and_keeps_dtype(name, backend):
    act = get_activation(name, 0.1)
    z = backend.asarray(Z, dtype=backend.dtype)
    y = backend.to_numpy(act.forward(z))
    assert y.dtype == backend.dtype
    np.testing.assert_allclose(y, reference(name, Z, 0.1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_backward_is_the_derivative(name, backend64):
    """dz = dy * f'(z) from what the entry saves (y or z), against central differences."""
    act = get_activation(name, 0.1)
    z = np.array([-3.0, -0.7, -0.1, 0.2, 0.9, 2.5])  # away from the ReLU kink
    zd = backend64.asarray(z.copy())
    y = act.forward(zd)
    saved = y if act.saves == "y" else zd
    if act.saves == "z":
        np.testing.assert_array_equal(backend64.to_numpy(zd), z)  # z kept for the backward
    dy = np.linspace(-1, 2, z.size)
    dz = backend64.to_numpy(act.backward(saved, backend64.asarray(dy.copy())))
    h = 1e-6
    numeric = (reference(name, z + h, 0.1) - reference(name, z - h, 0.1)) / (2 * h)
    np.testing.assert_allclose(dz, dy * numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_declares_what_it_needs(name):
    entry = ACTIVATIONS.get(name)
    assert entry.saves in ("y", "z") and entry.summary
    assert entry.cuda is None or (entry.cuda.forward and entry.cuda.derivative)


def test_sigmoid_and_silu_never_overflow():
    for name in ("sigmoid", "silu"):
        act = get_activation(name)
        with np.errstate(all="raise"):
            y = act.forward(np.array([-1e4, -800.0, 0.0, 800.0, 1e4]))
        assert np.all(np.isfinite(y))


def test_gelu_is_the_tanh_form():
    y = get_activation("gelu").forward(np.array([-1.0, 0.0, 1.0, 3.0]))
    np.testing.assert_allclose(y, [-0.158808, 0.0, 0.841192, 2.996363], atol=1e-6)


def test_leaky_relu_slope_is_configurable():
    y = get_activation("leaky_relu", 0.2).forward(np.array([-2.0, 3.0]))
    np.testing.assert_allclose(y, [-0.4, 3.0])


@pytest.mark.parametrize("name,slope", [("swish", 0.01), ("leaky_relu", -0.1), ("leaky_relu", 1.0)])
def test_bad_activation_rejected(name, slope):
    with pytest.raises(ConfigError, match="unknown activation|leaky_slope"):
        get_activation(name, slope)


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(ConfigError) as err:
        get_activation("swish")
    assert all(n in str(err.value) for n in NAMES)
