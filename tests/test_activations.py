import numpy as np
import pytest

from netlab.activations import NAMES, get_activation, reference
from netlab.errors import ConfigError

Z = np.array([[-30.0, -2.0, -0.5, -1e-3, 0.0], [1e-3, 0.5, 2.0, 30.0, -700.0]])


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_formula_and_keeps_dtype(name, backend):
    act = get_activation(name, 0.1)
    z = backend.asarray(Z, dtype=backend.dtype)
    y = backend.to_numpy(act.forward(z))
    assert y.dtype == backend.dtype
    np.testing.assert_allclose(y, reference(name, Z, 0.1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_backward_is_derivative(name, backend64):
    act = get_activation(name, 0.1)
    z = np.array([-3.0, -0.7, -0.1, 0.2, 0.9, 2.5])  # away from the ReLU kink
    y = act.forward(backend64.asarray(z.copy()))
    dy = np.linspace(-1, 2, z.size)
    dz = backend64.to_numpy(act.backward(y, backend64.asarray(dy.copy())))
    h = 1e-6
    numeric = (reference(name, z + h, 0.1) - reference(name, z - h, 0.1)) / (2 * h)
    np.testing.assert_allclose(dz, dy * numeric, rtol=1e-7, atol=1e-9)


def test_sigmoid_never_overflows():
    act = get_activation("sigmoid")
    with np.errstate(all="raise"):
        y = act.forward(np.array([-1e4, -800.0, 0.0, 800.0, 1e4]))
    np.testing.assert_allclose(y, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_leaky_relu_slope_is_configurable():
    y = get_activation("leaky_relu", 0.2).forward(np.array([-2.0, 3.0]))
    np.testing.assert_allclose(y, [-0.4, 3.0])


@pytest.mark.parametrize("name,slope", [("swish", 0.01), ("leaky_relu", -0.1), ("leaky_relu", 1.0)])
def test_bad_activation_rejected(name, slope):
    with pytest.raises(ConfigError):
        get_activation(name, slope)
