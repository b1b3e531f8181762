"""CUDA-graph training (graph.py, kernels.py).

On any machine: when graph mode applies, and the bookkeeping of a captured step (operand strides,
the permutation gathers, epilogues, the order of launches) checked by running GraphEpoch with a
NumPy interpreter of the kernels' documented contract against the eager NumPy path. On a GPU
(cuda-marked): graph vs eager CUDA, CPU vs CUDA, float32 and float64.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import netlab
from netlab import kernels as K
from netlab.backend import Backend
from netlab.graph import MAX_GRAPH_WIDTH, GraphEpoch, graph_plan
from netlab.layers import MLP
from netlab.optim import SGD
from netlab.train import train, train_epoch

CUDA = types.SimpleNamespace(name="cuda")
CPU = types.SimpleNamespace(name="cpu")


def test_graph_plan_applies_on_cuda_only_and_says_why_not():
    assert graph_plan(CUDA, [784, 50, 50, 10], 0.0, None) == (True, "")
    assert graph_plan(CUDA, [784, 50, 50, 10], 0.0, False) == (False, "")
    assert graph_plan(CPU, [784, 50, 50, 10], 0.0, None) == (False, "")  # silent default
    use, why = graph_plan(CPU, [784, 50, 50, 10], 0.0, True)
    assert not use and "needs a CUDA device" in why
    use, why = graph_plan(CUDA, [784, 50, 50, 10], 0.2, None)
    assert not use and "dropout" in why
    use, why = graph_plan(CUDA, [784, MAX_GRAPH_WIDTH + 1, 10], 0.0, None)
    assert not use and "GEMM-bound" in why


# ------------------------------------------------ a NumPy interpreter of the kernels' contract


class HostArray(np.ndarray):
    def set(self, a, stream=None):
        self[...] = a


class _Stream:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass

    def begin_capture(self):
        self.launches = []

    def end_capture(self):
        return types.SimpleNamespace(launch=lambda stream: None)


def fake_cupy():
    cp = types.SimpleNamespace()
    cp.zeros = lambda shape, dtype: np.zeros(shape, dtype).view(HostArray)
    cp.cuda = types.SimpleNamespace(
        Stream=lambda non_blocking=True: _Stream(), get_current_stream=lambda: _Stream()
    )
    return cp


def _act(name, slope):
    from netlab.activations import get_activation

    if name == "identity":
        return (lambda v: v), (lambda y: np.ones_like(y))
    a = get_activation(name, slope)
    return (lambda v: a.forward(v.copy())), (lambda y: a.backward(y, np.ones_like(y)))


class ReferenceKernels:
    """What each CUDA kernel computes, written with NumPy, argument for argument."""

    def __init__(self, cp, dtype, activation, slope):
        self.slope = float(slope)
        self.softmax_ce_grad = self._softmax_ce_grad
        self.column_sum = self._column_sum
        self.sgd_update = self._sgd_update

    def compile(self, keys):
        pass

    def gemm(self, *, act, epi, gather, A, perm, offset, sa, B, sb, C, ldc, E, m, n, k):
        i, j, ll = np.arange(m), np.arange(n), np.arange(k)
        ri = perm[offset + i] if gather == K.GATHER_ROWS else i
        rl = perm[offset + ll] if gather == K.GATHER_COLS else ll
        a = A.reshape(-1)[ri[:, None] * sa[0] + rl[None, :] * sa[1]]
        b = B.reshape(-1)[ll[:, None] * sb[0] + j[None, :] * sb[1]]
        acc = a @ b
        f, df = _act(act, self.slope)
        at = i[:, None] * ldc + j[None, :]
        if epi == K.EPI_STORE:
            out = acc
        elif epi == K.EPI_BIAS_ACT:
            out = f(acc + E[None, :n])
        else:
            out = acc * df(E.reshape(-1)[at])
        flat = C.reshape(-1)
        assert np.shares_memory(flat, C)
        flat[at] = out

    def _softmax_ce_grad(self, grid, block, args):
        z, labels, perm, offset, d, m, c, scale = args
        zi = z[:m, :c]
        e = np.exp(zi - zi.max(axis=1, keepdims=True))
        d[:m, :c] = e * (scale / e.sum(axis=1, keepdims=True))
        d[np.arange(m), labels[perm[offset : offset + m]]] -= scale

    def _column_sum(self, grid, block, args):
        dy, db, m, n = args
        db[...] = dy[:m, :n].sum(axis=0)

    def _sgd_update(self, grid, block, args):
        w, g, v, lr, momentum, l2x2, n_weights, n, nesterov = args
        g = g.copy()
        g[:n_weights] += l2x2 * w[:n_weights]
        g *= lr[0]
        v *= momentum
        v -= g
        if nesterov:
            w += momentum * v
            w -= g
        else:
            w += v


@pytest.mark.parametrize(
    "activation,l2,nesterov,norm,batch",
    [
        ("tanh", 0.0, False, "batch", 32),
        ("relu", 1e-3, True, "classes_batch", 50),
        ("leaky_relu", 0.0, False, "batch", 7),
        ("sigmoid", 1e-2, True, "batch", 64),
    ],
)
def test_captured_step_bookkeeping_matches_the_eager_path(
    monkeypatch, activation, l2, nesterov, norm, batch
):
    """One epoch through GraphEpoch's launches (kernels interpreted by NumPy) equals one eager
    epoch: same gathers, strides, epilogues and update, in float64."""
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    rng = np.random.default_rng(0)
    n_rows, n_train = 300, 250
    X = rng.standard_normal((n_rows, 12))
    y = rng.integers(0, 5, n_rows)
    order = rng.permutation(n_train)
    sizes = [12, 9, 7, 5]
    models = []
    for xp in (np, fake_cupy()):
        be = Backend("cpu" if xp is np else "cuda", xp, "cpu", np.dtype(np.float64))
        cpu = netlab.get_backend("cpu", "float64")
        model = MLP(sizes, activation, init="he", rng=np.random.default_rng(1), backend=cpu)
        model.backend = be
        opt = SGD(model.flat, model.grad_flat, model.n_weights, lr=0.05, momentum=0.9, l2=l2,
                  nesterov=nesterov, backend=cpu)  # fmt: skip
        if xp is np:
            train_epoch(model, opt, X, y, order, batch, norm)
        else:
            runner = GraphEpoch(model, opt, X, y, n_train, batch, norm)
            runner.run_eager(order, opt.lr)
        models.append(model)
    np.testing.assert_allclose(models[1].flat, models[0].flat, rtol=1e-12, atol=1e-12)


def test_captured_epoch_is_recorded_once_and_replayed(monkeypatch):
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    be = Backend("cuda", fake_cupy(), "cuda:0", np.dtype(np.float32))
    cpu = netlab.get_backend("cpu", "float32")
    model = MLP([6, 4, 3], "tanh", init="xavier", rng=np.random.default_rng(0), backend=cpu)
    model.backend = be
    opt = SGD(model.flat, model.grad_flat, model.n_weights, lr=0.1, momentum=0.9, backend=cpu)
    X = np.ones((10, 6), np.float32)
    runner = GraphEpoch(model, opt, X, np.zeros(10, np.int64), 10, 4, "batch")
    assert runner.steps == [(0, 4), (4, 4), (8, 2)]  # the last batch is smaller
    with pytest.raises(ValueError, match="captured for 10"):
        runner.run(np.arange(9), 0.1)
    runner.run(np.arange(10), 0.1)
    graph = runner.graph
    runner.run(np.arange(10)[::-1].copy(), 0.05)
    assert runner.graph is graph and runner.lr[0] == np.float32(0.05)
    assert list(runner.perm) == list(range(9, -1, -1))


# ------------------------------------------------ on a GPU


def _sample(**kw):
    from netlab.config import Config, with_overrides

    base = {"data.source": "sample", "training.epochs": 1}
    base.update(kw)
    return with_overrides(Config(), base)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_graph_and_eager_cuda_agree_with_cpu(dtype, rtol):
    cfg = _sample(**{"training.dtype": dtype})
    cpu = train(cfg, device="cpu")
    eager = train(cfg, device="cuda", graph=False)
    graphed = train(cfg, device="cuda", graph=True)
    for other in (eager, graphed):
        np.testing.assert_allclose(
            other.backend.to_numpy(other.model.flat), cpu.model.flat, rtol=rtol, atol=rtol
        )
    assert abs(graphed.test.accuracy - cpu.test.accuracy) <= 0.003


@pytest.mark.cuda
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu"])
def test_graph_kernels_match_eager_cuda_for_every_activation(activation):
    cfg = _sample(
        **{"training.dtype": "float64", "model.activation": activation, "training.l2": 1e-3,
           "training.nesterov": True, "training.epochs": 2, "training.schedule": "cosine"}
    )  # fmt: skip
    eager = train(cfg, device="cuda", graph=False)
    graphed = train(cfg, device="cuda", graph=True)
    np.testing.assert_allclose(
        graphed.backend.to_numpy(graphed.model.flat),
        eager.backend.to_numpy(eager.model.flat),
        rtol=1e-10,
        atol=1e-12,
    )
    assert [r["val_loss"] for r in graphed.fit.history] == pytest.approx(
        [r["val_loss"] for r in eager.fit.history], rel=1e-9
    )


def test_gpu_benchmark_without_a_gpu_is_one_line():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"
    if _has_cuda():
        pytest.skip("a GPU is present; the cuda-marked benchmark test runs instead")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: benchmarks/gpu.py needs")


@pytest.mark.cuda
def test_gpu_benchmark_runs(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(script), "--epochs", "1", "--data", "synthetic", "--skip-large",
           "--skip-accuracy", "--json", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=600)
    cases = json.loads(out.read_text())["cases"]["baseline"]
    assert set(cases) == {"netlab graph", "netlab eager", "PyTorch eager", "PyTorch CUDA graph"}


def _has_cuda() -> bool:
    from netlab.backend import cuda_available

    return cuda_available()
