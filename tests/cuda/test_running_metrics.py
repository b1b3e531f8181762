"""Issue 17 item 2: train_metrics="running" (the scikit-learn estimator's loss_curve_) in graph
mode. Graph mode used to return no running sums, so loss_curve_ silently became the exact
end-of-epoch loss; the captured step now sums each batch's loss and hits before its update."""

from __future__ import annotations

import numpy as np
import pytest

from netlab.cuda import graph as G


def test_sklearn_loss_curve_on_cuda_is_the_running_batch_mean(standin, monkeypatch):
    pytest.importorskip("sklearn", reason="needs the sklearn extra")
    from netlab.data.sources import load_data
    from netlab.integrations.sklearn import MLPClassifier

    replays = []
    run = G.GraphEpoch.run
    monkeypatch.setattr(
        G.GraphEpoch, "run", lambda self, *a, **kw: replays.append(1) or run(self, *a, **kw)
    )
    raw = load_data("sample")
    X = raw.x_train[:600].reshape(600, -1).astype(np.float64) / 255.0
    y = raw.y_train[:600]
    fits = {}
    for device in ("cpu", "cuda"):
        clf = MLPClassifier((16,), max_iter=3, batch_size=64, dtype="float64", random_state=0,
                            device=device)  # fmt: skip
        fits[device] = clf.fit(X, y)
    assert len(replays) == 1 + 3  # graph mode: its self-check, then one run per epoch
    cpu, cuda = fits["cpu"], fits["cuda"]
    np.testing.assert_allclose(cuda.loss_curve_, cpu.loss_curve_, rtol=1e-10)
    train_acc = [r["train_accuracy"] for r in cpu.history_]
    assert [r["train_accuracy"] for r in cuda.history_] == pytest.approx(train_acc, abs=1e-12)
    np.testing.assert_allclose(cuda.coefs_[0], cpu.coefs_[0], rtol=1e-9, atol=1e-12)
