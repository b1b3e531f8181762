"""`netlab export`: the ONNX graph run by a real runtime (onnxruntime) on the real test set gives
netlab eval's predictions and its probabilities to float32 tolerance, for every activation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx", reason='needs the onnx extra (pip install -e ".[onnx]")')
ort = pytest.importorskip("onnxruntime", reason='needs the onnx extra (pip install -e ".[onnx]")')

from netlab.cli import main  # noqa: E402

from netlab.data.prepare import normalize_inputs  # noqa: E402
from netlab.data.sources import load_data  # noqa: E402
from netlab.files.model import load_model  # noqa: E402
from netlab.nn.activations import ACTIVATIONS  # noqa: E402
from netlab.training.evaluation import (  # noqa: E402
    evaluate,
    evaluate_model_file,
)


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
def test_onnx_runtime_matches_netlab_eval_on_the_test_set(activation, tmp_path, real_data, capsys):
    run = tmp_path / "run"
    argv = ["train", "--data", "sample", "--epochs", "2", "--hidden", "64,32", "--activation",
            activation, "--leaky-slope", "0.1", "--out", str(run), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert main(["export", str(run / "model.npz"), str(tmp_path / "m.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out

    raw = load_data("fashion-mnist", str(real_data))  # the real 10,000 test images
    loaded = load_model(run / "model.npz", "cpu")
    X = normalize_inputs(raw.x_test, loaded.mean, loaded.std, loaded.model.backend.dtype)
    ours = evaluate(loaded.model, X, raw.y_test, predictions=True)
    logits = loaded.model.logits(X)
    e = np.exp(logits - logits.max(1, keepdims=True))
    probabilities = e / e.sum(1, keepdims=True)

    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    pixels = raw.x_test.reshape(len(raw.x_test), -1).astype(np.float32)
    onnx_logits, onnx_probabilities = session.run(["logits", "probabilities"], {"pixels": pixels})

    assert np.array_equal(onnx_logits.argmax(1), ours.predictions)
    np.testing.assert_allclose(onnx_probabilities, probabilities, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(onnx_logits, logits, atol=1e-4, rtol=1e-4)
    report = evaluate_model_file(run / "model.npz", source="fashion-mnist", location=str(real_data))
    assert report["test_accuracy"] == pytest.approx((onnx_logits.argmax(1) == raw.y_test).mean())


def test_export_refuses_bad_targets(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.npz"), str(tmp_path / "m.onnx")]) == 1
    assert "no such model file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.npz"), str(tmp_path / "m.txt")]) == 1
    assert "ending in .onnx" in capsys.readouterr().err
    (tmp_path / "m.onnx").write_bytes(b"keep")
    assert main(["export", str(tmp_path / "none.npz"), str(tmp_path / "m.onnx")]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "m.onnx").read_bytes() == b"keep"
