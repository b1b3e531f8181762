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
from netlab.cuda import kernels as K
from netlab.cuda.graph import MAX_GRAPH_WIDTH, GraphEpoch, graph_plan
from netlab.nn.activations import ACTIVATIONS
from netlab.nn.backend import Backend
from netlab.nn.layers import MLP
from netlab.nn.optimizers import SGD
from netlab.training.epoch import train_epoch
from netlab.training.run import train

CUDA = types.SimpleNamespace(name="cuda")
CPU = types.SimpleNamespace(name="cpu")


def _cfg(**kw):
    from netlab.config import Config, with_overrides

    return with_overrides(Config(), kw)


def test_graph_plan_applies_on_cuda_only_and_says_why_not():
    cfg = _cfg()
    assert graph_plan(CUDA, [784, 50, 50, 10], cfg, None) == (True, "")
    assert graph_plan(CUDA, [784, 50, 50, 10], cfg, False) == (False, "")
    assert graph_plan(CPU, [784, 50, 50, 10], cfg, None) == (False, "")  # silent default
    use, why = graph_plan(CPU, [784, 50, 50, 10], cfg, True)
    assert not use and "needs a CUDA device" in why
    for key, value, what in [
        ("training.dropout", 0.2, "dropout"),
        ("training.input_dropout", 0.1, "input dropout"),
        ("training.label_smoothing", 0.1, "label smoothing"),
        ("training.augment", ["shift"], "augmentation"),
    ]:
        use, why = graph_plan(CUDA, [784, 50, 50, 10], _cfg(**{key: value}), None)
        assert not use and what in why
    use, why = graph_plan(CUDA, [784, MAX_GRAPH_WIDTH + 1, 10], cfg, None)
    assert not use and "GEMM-bound" in why


def test_graph_plan_falls_back_for_entries_without_cuda_code():
    eager_act = types.SimpleNamespace(name="mine", definition=types.SimpleNamespace(cuda=None))
    use, why = graph_plan(CUDA, [784, 50, 10], _cfg(), None, activation=eager_act)
    assert not use and "activation mine has no CUDA kernel" in why
    eager_opt = types.SimpleNamespace(name="lion", cuda=None)
    use, why = graph_plan(CUDA, [784, 50, 10], _cfg(), None, optimizer=eager_opt)
    assert not use and "optimizer lion has no CUDA kernel" in why


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
    """f(v) and f'(s) of an activation, s being what it saves (y or z)."""
    from netlab.nn.activations import get_activation

    if name == "identity":
        return (lambda v: v), (lambda s: np.ones_like(s))
    a = get_activation(name, slope)
    return (lambda v: a.forward(v.copy())), (lambda s: a.backward(s.copy(), np.ones_like(s)))


class ReferenceKernels:
    """What each CUDA kernel computes, written with NumPy, argument for argument."""

    def __init__(self, cp, dtype, activation, slope, optimizer):
        self.slope = float(slope)
        self.optimizer = optimizer
        self.softmax_ce_grad = self._softmax_ce_grad
        self.column_sum = self._column_sum
        self.update = self._update

    def compile(self, keys):
        pass

    def gemm(self, *, act, epi, gather, A, perm, offset, sa, B, sb, C, ldc, E, m, n, k, Z=None):
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
        elif epi in (K.EPI_BIAS_ACT, K.EPI_BIAS_ACT_KEEP_Z):
            out = f(acc + E[None, :n])
            if epi == K.EPI_BIAS_ACT_KEEP_Z:
                Z.reshape(-1)[at] = acc + E[None, :n]
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

    def _update(self, grid, block, args):
        """The optimizer's update, through its own NumPy code, with lr and the step count read
        from the device buffers the way the kernel reads them."""
        w, g, s0, s1, lr, t0, step, n_weights, n = args[:9]
        opt = self.optimizer
        assert w is opt.flat and g is opt.grad_flat
        assert [s0, s1][: len(opt.buffers)] == [opt.state[b] for b in opt.buffers]
        assert tuple(float(h) for h in args[9:]) == opt.cuda_args()
        opt.lr, opt.steps = float(lr[0]), int(t0[0]) + int(step)
        opt.update(g)


def _cases():
    """Every activation with CUDA code (SGD, settings varied), every optimizer with CUDA code."""
    from netlab.nn.activations import ACTIVATIONS
    from netlab.nn.optimizers import OPTIMIZERS

    settings = [({"l2": 0.0}, "batch", 32), ({"l2": 1e-3, "nesterov": True}, "classes_batch", 50),
                ({"l2": 0.0}, "batch", 7),
                ({"l2": 1e-2, "nesterov": True}, "batch", 64)]  # fmt: skip
    acts = [n for n in ACTIVATIONS.names() if ACTIVATIONS.get(n).cuda is not None]
    cases = [(a, "sgd", {"momentum": 0.9, **settings[i % 4][0]}, *settings[i % 4][1:])
             for i, a in enumerate(acts)]  # fmt: skip
    extra = {"adam": {"l2": 1e-3}, "adamw": {"weight_decay": 0.05}}
    for i, name in enumerate(n for n in OPTIMIZERS.names() if n != "sgd"):
        if OPTIMIZERS.get(name).cuda is not None:
            cases.append((acts[i % len(acts)], name, extra.get(name, {}), "batch", 32))
    return cases


@pytest.mark.parametrize("activation,optimizer,hyper,norm,batch", _cases())
def test_captured_step_bookkeeping_matches_the_eager_path(
    monkeypatch, activation, optimizer, hyper, norm, batch
):
    """One epoch through GraphEpoch's launches (kernels interpreted by NumPy) equals one eager
    epoch: same gathers, strides, epilogues and update, in float64."""
    from netlab.nn.optimizers import OPTIMIZERS

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
        opt = OPTIMIZERS.get(optimizer)(model.flat, model.grad_flat, model.n_weights, lr=0.01,
                                        backend=cpu, **hyper)  # fmt: skip
        opt.steps = 7  # a later epoch: the step count reaches the kernel through t0
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
    assert runner.graph is graph and runner.lr[0] == 0.05  # kept in float64, cast per kernel
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
@pytest.mark.parametrize("activation", ACTIVATIONS.names())
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

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"
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

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(script), "--epochs", "1", "--data", "synthetic", "--skip-large",
           "--skip-accuracy", "--json", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=600)
    cases = json.loads(out.read_text())["cases"]["baseline"]
    assert set(cases) == {"netlab graph", "netlab eager", "PyTorch eager", "PyTorch CUDA graph"}


def _has_cuda() -> bool:
    from netlab.nn.backend import cuda_available

    return cuda_available()
