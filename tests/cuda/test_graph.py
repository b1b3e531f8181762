"""CUDA-graph training (graph.py, step.py, kernels.py).

On any machine: where graph mode applies, and the bookkeeping of captured steps (operand strides,
permutation gathers, epilogues, step offsets and step counts read from device memory, chunked
capture, the order of launches) checked by running GraphEpoch on the NumPy stand-in for CuPy with
the interpreter of the kernels' contract (standin.py) against the eager NumPy path. On a GPU
(cuda-marked): graph vs eager CUDA, CPU vs CUDA, float32 and float64.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from standin import CaptureError, ReferenceKernels, capturing, invalidate, make_cupy

import netlab
from netlab.cuda import graph as G
from netlab.cuda import kernels as K
from netlab.cuda.graph import GraphEpoch, chunk_schedule, graph_plan
from netlab.cuda.sources import VARIANTS
from netlab.nn.activations import ACTIVATIONS
from netlab.nn.backend import Backend
from netlab.nn.layers import MLP
from netlab.nn.optimizers import OPTIMIZERS, SGD
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


def test_graph_plan_bounds_the_work_of_a_step_not_the_width_of_a_layer():
    """Issue 17 item 5: 100,000 inputs into 100 units was graph mode (only widths past the input
    were checked); a wide but cheap layer at a small batch was refused."""
    use, why = graph_plan(CUDA, [100_000, 100, 10], _cfg(), None)
    assert not use and "multiply-adds is GEMM-bound" in why
    large = _cfg(**{"training.batch_size": 4096})
    assert not graph_plan(CUDA, [784, 4096, 4096, 10], large, None)[0]
    assert graph_plan(CUDA, [784, 3000, 10], _cfg(**{"training.batch_size": 8}), None)[0]
    use, why = graph_plan(CUDA, [20, 10], _cfg(**{"training.batch_size": 100_000}), None)
    assert not use and "sums 100000 products per output" in why
    assert G.step_macs([4, 3, 2], 5) == 5 * (2 * (12 + 6) + 6)


def test_graph_plan_falls_back_for_entries_without_cuda_code():
    eager_act = types.SimpleNamespace(name="mine", definition=types.SimpleNamespace(cuda=None))
    use, why = graph_plan(CUDA, [784, 50, 10], _cfg(), None, activation=eager_act)
    assert not use and "activation mine has no CUDA kernel" in why
    eager_opt = types.SimpleNamespace(name="lion", cuda=None)
    use, why = graph_plan(CUDA, [784, 50, 10], _cfg(), None, optimizer=eager_opt)
    assert not use and "optimizer lion has no CUDA kernel" in why


def _models(sizes, activation, optimizer, hyper, dtype=np.float64, steps=7):
    """The same initial model and optimizer on the CPU and on the stand-in 'cuda' backend."""
    out = []
    for xp in (np, make_cupy()):
        be = Backend("cpu" if xp is np else "cuda", xp, "cpu", np.dtype(dtype))
        cpu = netlab.get_backend("cpu", np.dtype(dtype).name)
        model = MLP(sizes, activation, init="he", rng=np.random.default_rng(1), backend=cpu)
        model.backend = be
        opt = OPTIMIZERS.get(optimizer)(model.flat, model.grad_flat, model.n_weights, lr=0.01,
                                        backend=cpu, **hyper)  # fmt: skip
        opt.steps = steps  # a later epoch: the step count reaches the kernel through t0
        out.append((model, opt))
    return out


def _cases():
    """Every activation with CUDA code (SGD, settings varied), every optimizer with CUDA code."""
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
def test_captured_epoch_matches_the_eager_path(
    monkeypatch, activation, optimizer, hyper, norm, batch
):
    """An epoch captured and replayed through GraphEpoch (kernels interpreted), then one launched
    without a graph, each equal to an eager epoch: same gathers, strides, epilogues, step offsets
    and update, in float64."""
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    rng = np.random.default_rng(0)
    n_rows, n_train = 300, 250
    X, y = rng.standard_normal((n_rows, 12)), rng.integers(0, 5, n_rows)
    (m_cpu, o_cpu), (m_gpu, o_gpu) = _models([12, 9, 7, 5], activation, optimizer, hyper)
    runner = GraphEpoch(m_gpu, o_gpu, X, y, n_train, batch, norm)
    for run in (runner.run, runner.run_eager):
        order = rng.permutation(n_train)
        train_epoch(m_cpu, o_cpu, X, y, order, batch, norm)
        run(order, o_gpu.lr)
        o_gpu.steps += runner.n_steps
        np.testing.assert_allclose(m_gpu.flat, m_cpu.flat, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_kernel_variant_trains_the_same_epoch(monkeypatch, variant):
    """The variants change how the GPU computes, not what (parallel column sums add in another
    order, which the interpreter models): an epoch under each equals the eager one."""
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((90, 8)), rng.integers(0, 4, 90)
    order = rng.permutation(90)
    (m_cpu, o_cpu), (m_gpu, o_gpu) = _models([8, 6, 4], "relu", "sgd", {"momentum": 0.9})
    train_epoch(m_cpu, o_cpu, X, y, order, 16, "batch")
    runner = GraphEpoch(m_gpu, o_gpu, X, y, 90, 16, "batch", variant=VARIANTS[variant])
    assert runner.kernels.variant == VARIANTS[variant]
    runner.run(order, o_gpu.lr)
    np.testing.assert_allclose(m_gpu.flat, m_cpu.flat, rtol=1e-12, atol=1e-12)


def test_every_launched_gemm_is_in_the_compile_plan(monkeypatch):
    """What Kernels compiles before capture (and the compile check compiles) is what the step
    launches, for every activation: a launch outside it would compile inside the capture."""
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, 20)
    for act in (n for n in ACTIVATIONS.names() if ACTIVATIONS.get(n).cuda is not None):
        launched, planned = set(), set()
        for sizes in ([6, 5, 4, 3], [6, 3]):  # hidden layers, and none (logits read X)
            (_, _), (model, opt) = _models(sizes, act, "sgd", {"momentum": 0.9})
            runner = GraphEpoch(model, opt, X, y, 20, 8, "batch")
            runner.run(np.arange(20), 0.1)  # ReferenceKernels refuses uncompiled keys in capture
            launched |= {key for name, key in runner.kernels.launched if name == "gemm"}
            planned |= set(runner.buffers.gemm_keys())
        assert launched == planned


def test_chunked_capture_replays_one_graph_with_offsets_from_device_memory(monkeypatch):
    """Issue 17 item 3: the epoch was one graph of every step (624,000 nodes at batch 1). Now a
    chunk of CHUNK_STEPS steps is captured once and replayed; each replay reads where its rows
    start and how many optimizer steps came before from device memory. Adam's bias correction
    depends on the step count, so a wrong count shows."""
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    monkeypatch.setattr(G, "CHUNK_STEPS", 4)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((60, 6)), rng.integers(0, 3, 60)
    (m_cpu, o_cpu), (m_gpu, o_gpu) = _models([6, 5, 3], "tanh", "adam", {"l2": 1e-3})
    runner = GraphEpoch(m_gpu, o_gpu, X, y, 50, 3, "batch")
    assert runner.schedule == [((4, 0), 4), ((0, 2), 1)]  # 16 full steps, then one of 2 rows
    assert chunk_schedule(48_000, 1, 512) == [((512, 0), 93), ((384, 0), 1)]
    assert chunk_schedule(48_000, 128, 512) == [((375, 0), 1)]  # the baseline: one graph
    for _ in range(2):
        order = rng.permutation(50)
        batches = []
        train_epoch(m_cpu, o_cpu, X, y, order, 3, "batch")
        runner.run(order, o_gpu.lr, batches.append)
        o_gpu.steps += runner.n_steps
        assert batches == list(range(17))
        np.testing.assert_allclose(m_gpu.flat, m_cpu.flat, rtol=1e-12, atol=1e-12)
    chunk, tail = runner.graphs[(4, 0)], runner.graphs[(0, 2)]
    per_step = 1 + 3 + 1 + 2 + 1 + 1  # 2 forward + 1 loss + per layer dW and column sum, dx
    assert len(chunk.launches) == 4 * per_step + 1 and chunk.replays == 8  # + advance
    assert len(tail.launches) == per_step + 1 and tail.replays == 2


def test_captured_epoch_is_recorded_once_and_replayed(standin):
    be = Backend("cuda", standin, "cuda:0", np.dtype(np.float32))
    cpu = netlab.get_backend("cpu", "float32")
    model = MLP([6, 4, 3], "tanh", init="xavier", rng=np.random.default_rng(0), backend=cpu)
    model.backend = be
    opt = SGD(model.flat, model.grad_flat, model.n_weights, lr=0.1, momentum=0.9, backend=cpu)
    X = np.ones((10, 6), np.float32)
    runner = GraphEpoch(model, opt, X, np.zeros(10, np.int64), 10, 4, "batch")
    assert runner.n_steps == 3 and runner.schedule == [((2, 2), 1)]  # the last batch is smaller
    with pytest.raises(ValueError, match="captured for 10"):
        runner.run(np.arange(9), 0.1)
    runner.run(np.arange(10), 0.1)
    graph = runner.graphs[(2, 2)]
    runner.run(np.arange(10)[::-1].copy(), 0.05)
    assert runner.graphs[(2, 2)] is graph and graph.replays == 2
    assert runner.lr[0] == 0.05  # kept in float64, cast per kernel
    assert list(runner.perm) == list(range(9, -1, -1))


def test_a_failed_launch_in_capture_reports_itself_not_the_invalidated_capture(
    standin, monkeypatch
):
    """Issue 17 item 8: end_capture() in a `finally` replaced the launch's error by its own."""

    class Failing(ReferenceKernels):
        def column_sum(self, dy, db, m, n):
            invalidate()
            raise RuntimeError("cudaErrorLaunchOutOfResources: too many resources requested")

    monkeypatch.setattr(K, "Kernels", Failing)
    model, opt = _models([6, 4, 3], "tanh", "sgd", {"momentum": 0.9}, np.float32)[1]
    X, y = np.ones((10, 6), np.float32), np.zeros(10, np.int64)
    runner = GraphEpoch(model, opt, X, y, 10, 4, "batch")
    with pytest.raises(RuntimeError, match="too many resources"):
        runner.run(np.arange(10), 0.1)
    assert not capturing()  # the stream left capture mode: eager CUDA work can go on


def test_the_stand_in_refuses_what_a_capture_refuses(standin):
    stream = standin.cuda.Stream()
    stream.begin_capture()
    with pytest.raises(CaptureError, match="allocation"):
        standin.zeros(3)
    stream.end_capture()


def test_inputs_the_kernels_would_misread_are_refused(monkeypatch):
    """Issue 17 item 6: GraphEpoch (built directly by benchmarks/gpu.py) checks its inputs."""
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    (_, _), (model, opt) = _models([6, 4, 3], "tanh", "sgd", {}, np.float32)
    X, y = np.ones((10, 6), np.float32), np.zeros(10, np.int64)
    bad = [
        (X.astype(np.float64), y, 10, "X must be float32"),
        (np.ones((6, 10), np.float32).T, y, 10, "C-contiguous"),
        (X, y.astype(np.int32), 10, "y must be int64"),
        (X, np.full(10, 3), 10, r"labels must be in \[0, 3\); got values from 3 to 3"),
        (X, np.full(10, -1), 10, "labels must be in"),
        (X, y, 11, r"n_train must be in \[1, 10\]"),
    ]
    for Xb, yb, n, message in bad:
        with pytest.raises(ValueError, match=message):
            GraphEpoch(model, opt, Xb, yb, n, 4, "batch")
    runner = GraphEpoch(model, opt, X, y, 5, 4, "batch")
    with pytest.raises(ValueError, match=r"row indices in \[0, 10\)"):
        runner.run(np.array([0, 1, 2, 3, 10]), 0.1)


def test_graph_mode_reports_every_batch_like_the_eager_path(standin):
    """Issue 17 item 1: graph mode sent one BatchEnd per epoch where the cuda-marked
    test_training_learns_and_reports expects one per batch."""
    from netlab.training.progress import BatchEnd, EpochStart, Notice

    events = []
    cfg = _cfg(**{"data.source": "sample", "training.epochs": 2})
    result = train(cfg, device="cuda", graph=True, progress=events.append)
    assert not [e for e in events if isinstance(e, Notice)]  # graph mode ran, self-check passed
    starts = [e for e in events if isinstance(e, EpochStart)]
    assert [e.batches for e in starts] == [math.ceil(2400 / 128)] * 2
    ends = [(e.epoch, e.batch) for e in events if isinstance(e, BatchEnd)]
    assert ends == [(epoch, b) for epoch in (1, 2) for b in range(1, 20)]
    cpu = train(cfg, device="cpu")
    np.testing.assert_allclose(result.model.flat, cpu.model.flat, rtol=1e-4, atol=1e-5)


# ------------------------------------------------ on a GPU


def _sample(**kw):
    base = {"data.source": "sample", "training.epochs": 1}
    base.update(kw)
    return _cfg(**base)


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


@pytest.mark.cuda
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_kernel_variant_passes_the_self_check_on_a_gpu(variant):
    from netlab.cuda.selfcheck import self_check
    from netlab.training.loop import seeded_rngs
    from netlab.training.run import build_model, load_prepared

    cfg = _sample()
    be = netlab.get_backend("cuda", "float32")
    rngs = seeded_rngs(0)
    data = load_prepared(cfg, be, rngs.split)
    model = build_model(cfg, data.n_features, data.n_classes, rngs.init, be)
    opt = SGD(model.flat, model.grad_flat, model.n_weights, lr=0.012, momentum=0.9, backend=be)
    cause = self_check(model, opt, data.X, data.y, data.train_idx, 128, "batch",
                       variant=VARIANTS[variant])  # fmt: skip
    assert cause == ""


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_a_split_k_first_gemm_trains_the_same_epoch(monkeypatch, dtype, rtol):
    """Issue 23 item 8: the first layer's k = 100 inputs in 7 ranges of 16 (the last one 4), each
    summed into the workspace, then the ranges added in order (the interpreter models the order)."""
    from netlab.cuda.sources import GATHER_ROWS, Variant, split_of

    variant = Variant(split_k=7)
    assert split_of(variant, GATHER_ROWS) == 7 and split_of(variant, 0) == 1
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((96, 100)).astype(dtype), rng.integers(0, 4, 96)
    order = rng.permutation(96)
    (m_cpu, o_cpu), (m_gpu, o_gpu) = _models([100, 6, 4], "tanh", "sgd", {"momentum": 0.9}, dtype)
    train_epoch(m_cpu, o_cpu, X, y, order, 32, "batch")
    runner = GraphEpoch(m_gpu, o_gpu, X, y, 96, 32, "batch", variant=variant)
    assert runner.buffers.work.shape == (7, 32, 6)
    runner.run(order, o_gpu.lr)
    np.testing.assert_allclose(m_gpu.flat, m_cpu.flat, rtol=rtol, atol=rtol)


def test_split_k_is_validated():
    from netlab.cuda.sources import Variant

    with pytest.raises(ValueError, match=r"split_k must be in \[1, 16\]; got 0"):
        Variant(split_k=0)
    assert Variant(split_k=7).name == "splitk7" and Variant(tile=32).name == "tile32"
