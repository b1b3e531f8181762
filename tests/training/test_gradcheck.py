import numpy as np
import pytest

import netlab
from netlab.errors import GradcheckError
from netlab.nn.activations import ACTIVATIONS, Activation
from netlab.nn.layers import MLP
from netlab.training.gradcheck import PAPER_ENTRIES, check_model, gradcheck


def test_refuses_float32():
    m = MLP([4, 3, 2], rng=np.random.default_rng(0), backend=netlab.get_backend("cpu", "float32"))
    with pytest.raises(GradcheckError, match="float64"):
        gradcheck(m, np.zeros((2, 4), np.float32), np.array([0, 1]))


def test_detects_a_broken_backward(monkeypatch):
    real = Activation.backward

    def broken(self, y, dy):
        return real(self, y, dy) * 1.01  # a 1% error in tanh'

    monkeypatch.setattr(Activation, "backward", broken)
    report = check_model([6, 5, 4, 3], "tanh", seed=1)
    assert not report.passed
    failed = {t.parameter for t in report.tensors if not t.passed}
    assert {"W1", "W2", "b1", "b2"} <= failed and "W3" not in failed and "b3" not in failed


def test_detects_a_wrong_l2_term(monkeypatch):
    import sys

    G = sys.modules["netlab.training.gradcheck"]

    real = G.analytic_gradients

    def without_l2(model, x, labels, loss_norm="batch", l2=0.0):
        return real(model, x, labels, loss_norm, 0.0)  # forgets 2*l2*W

    monkeypatch.setattr(G, "analytic_gradients", without_l2)
    assert not check_model([6, 5, 3], "relu", l2=0.1, seed=2).passed


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_default_cli_model_passes(activation, l2):
    report = check_model([784, 50, 50, 10], activation, l2=l2, max_entries=40)
    assert report.passed and report.max_rel_error < 1e-6
    assert [t.checked for t in report.tensors] == [40, 40, 40, 40, 40, 10]


def test_sampled_entries_on_large_tensor():
    report = check_model([784, 20, 10], max_entries=25, seed=3)
    assert report.tensors[0].checked == 25 and report.passed


def test_paper_protocol_entries():
    report = check_model([784, 50, 50, 10], "tanh", init="normal", eps=1e-2, paper=True)
    assert [(e.parameter, e.index) for e in report.entries] == [
        (p, i) for _, _, p, i, _ in PAPER_ENTRIES
    ]
    assert report.settings["examples"] == 10
    for e in report.entries:
        assert e.difference == pytest.approx(e.numeric - e.analytic)
        assert abs(e.difference) <= 1e-4  # O(eps^2), the study's claim
    with pytest.raises(GradcheckError, match="784-50-50-10"):
        check_model([20, 10], paper=True)
