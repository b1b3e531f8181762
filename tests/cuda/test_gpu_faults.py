"""Issue 23 items 2-5: what a user meets when the GPU fails, through the real `netlab` command
and the library, on the NumPy stand-in for CuPy (standin.py): missing CUDA libraries, a capture or
launch of the training graph that fails before or after the weights changed, and a sticky fault
that poisons the CUDA context (later calls, and the fallback's restore, raise too)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from netlab.cli import main
from standin import FAULTS, STICKY_MESSAGE, CUDARuntimeError, poison

from netlab.config import Config, with_overrides
from netlab.cuda import graph as G
from netlab.training.checkpoint import NAME, load_checkpoint
from netlab.training.progress import Notice
from netlab.training.run import RESUMABLE, train

SAMPLE = ["--data", "sample", "--quiet"]


def _cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _fail_run(monkeypatch, call: int, fault):
    """GraphEpoch.run's `call`-th call (1: the self-check, 2: epoch 1, 3: epoch 2) runs fault()."""
    run, calls = G.GraphEpoch.run, []

    def wrapped(self, *a, **kw):
        calls.append(1)
        if len(calls) == call:
            fault(self)
        return run(self, *a, **kw)

    monkeypatch.setattr(G.GraphEpoch, "run", wrapped)


def _cfg(**kw):
    return with_overrides(Config(), {"data.source": "sample", "training.epochs": 3, **kw})


def test_a_sticky_fault_stops_in_one_line_and_the_run_resumes_on_the_cpu(
    standin, monkeypatch, capsys, tmp_path
):
    """The fault in epoch 2's graph: exit 1, one line saying the GPU state is lost and how to
    resume; epoch 1's checkpoint intact; --resume --device cpu finishes the run."""
    _fail_run(monkeypatch, 3, lambda runner: poison())
    run_dir = tmp_path / "run"
    code, _, err = _cli(capsys, "train", *SAMPLE, "--epochs", "3", "--device", "cuda",
                        "--out", str(run_dir))  # fmt: skip
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("error: the GPU state is lost (CUDARuntimeError: cudaErrorIllegal")
    assert f"the checkpoint of epoch 1: netlab train --resume {run_dir} continues" in line
    assert line.endswith("(with --device cpu too)")
    cfg = _cfg()
    assert load_checkpoint(run_dir / NAME, cfg, ignore=RESUMABLE).epoch == 1
    code, out, err = _cli(capsys, "train", "--resume", str(run_dir), "--device", "cpu", "--quiet")
    assert code == 0, err
    assert "best epoch" in out and (run_dir / "metrics.json").exists()


def test_a_sticky_fault_in_eager_cuda_is_the_same_line(standin, monkeypatch, capsys, tmp_path):
    """No graph: the fault surfaces wherever the next CUDA call is (here the epoch's metrics)."""
    from netlab.training import loop

    measure, calls = loop.Trainer._measure, []

    def faulty(self, sums):
        calls.append(1)
        if len(calls) == 2:
            poison()
        return measure(self, sums)

    monkeypatch.setattr(loop.Trainer, "_measure", faulty)
    run_dir = tmp_path / "run"
    code, _, err = _cli(capsys, "train", *SAMPLE, "--epochs", "3", "--device", "cuda",
                        "--no-graph", "--out", str(run_dir))  # fmt: skip
    (line,) = err.strip().splitlines()
    assert code == 1 and "the GPU state is lost" in line and "checkpoint of epoch 1" in line


def _launch_fails_after_running(runner):
    """The graph runs (weights change), then its launch reports a non-sticky error."""
    graph = next(iter(runner.graphs.values()))
    launch = graph.launch

    def failing(stream=None):
        launch(stream)
        raise CUDARuntimeError("cudaErrorLaunchOutOfResources: too many resources requested")

    graph.launch = failing


def _capture_fails(runner):
    def failing(*a):
        raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported: operation not permitted")

    runner._capture = failing


@pytest.mark.parametrize(
    "call,fault,note",
    [(3, _launch_fails_after_running, "launching the training graph failed (CUDARuntimeError: "
      "cudaErrorLaunchOutOfResources: too many resources requested); this epoch restarts; "
      "training eagerly on CUDA"),
     (2, _capture_fails, "capturing the training graph failed (CUDARuntimeError: "
      "cudaErrorStreamCaptureUnsupported: operation not permitted); training eagerly on CUDA")],
)  # fmt: skip
def test_a_failed_graph_falls_back_to_eager_with_one_note(standin, monkeypatch, call, fault, note):
    """Before the weights changed (capture) or after (a launch that ran): one note, and the run
    equals training eagerly from where the graph left off (float64, so to rounding)."""
    cfg = _cfg(**{"training.dtype": "float64"})
    _fail_run(monkeypatch, call, fault)
    events = []
    result = train(cfg, device="cuda", progress=events.append)
    assert [e.text for e in events if isinstance(e, Notice)] == [note]
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "cupy", standin)
    eager = train(cfg, device="cuda", graph=False)
    np.testing.assert_allclose(result.model.flat, eager.model.flat, rtol=1e-9, atol=1e-12)
    assert [r["val_loss"] for r in result.fit.history] == pytest.approx(
        [r["val_loss"] for r in eager.fit.history], rel=1e-9
    )


def test_under_graph_a_failed_launch_is_an_error_and_the_checkpoint_stays(
    standin, monkeypatch, capsys, tmp_path
):
    _fail_run(monkeypatch, 3, _launch_fails_after_running)
    run_dir = tmp_path / "run"
    code, _, err = _cli(capsys, "train", *SAMPLE, "--epochs", "3", "--device", "cuda", "--graph",
                        "--out", str(run_dir))  # fmt: skip
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith("error: graph mode (--graph) failed: launching the")
    assert "resume with --no-graph" in line
    assert load_checkpoint(run_dir / NAME, _cfg(), ignore=RESUMABLE).epoch == 1


@pytest.mark.parametrize("library,piece", [("cublas", "cuBLAS"), ("nvrtc", "NVRTC")])
def test_a_missing_library_fails_before_the_run_directory_is_taken(
    standin, capsys, tmp_path, library, piece
):
    FAULTS["missing"].add(library)
    run_dir = tmp_path / "run"
    code, _, err = _cli(capsys, "train", *SAMPLE, "--device", "cuda", "--out", str(run_dir))
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith(f"error: {piece}") and "does not work on cuda:0" in line
    assert 'pip install -e ".[cuda' in line and not run_dir.exists()


def test_curand_is_not_needed_to_train(standin):
    """Init and shuffling happen on the host: a machine without cuRAND trains."""
    FAULTS["missing"].add("curand")
    cfg = _cfg(**{"training.epochs": 1})
    assert train(cfg, device="cuda").fit.history


def test_any_cupy_error_reaching_the_cli_is_one_line(standin, monkeypatch, capsys):
    from netlab.cuda import doctor

    def broken(device):
        raise CUDARuntimeError("cudaErrorDevicesUnavailable: CUDA-capable device(s) is/are busy")

    monkeypatch.setattr(doctor, "diagnose", broken)
    code, out, err = _cli(capsys, "doctor")
    (line,) = err.strip().splitlines()
    assert code == 1 and line.startswith("error: the GPU failed (CUDARuntimeError: cudaError")
    assert "netlab doctor" in line
    monkeypatch.setattr(doctor, "diagnose", lambda d: (_ for _ in ()).throw(
        CUDARuntimeError(STICKY_MESSAGE)))  # fmt: skip
    code, _, err = _cli(capsys, "doctor")
    assert code == 1 and err.startswith("error: the GPU state is lost")


def test_other_errors_are_not_swallowed(monkeypatch):
    from netlab.cuda import doctor

    monkeypatch.setattr(doctor, "diagnose", lambda d: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["doctor"])
