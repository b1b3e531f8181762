import math

import numpy as np
import pytest

import netlab
from netlab.config import Config, with_overrides
from netlab.data.prepare import prepare
from netlab.data.sources import load_data
from netlab.errors import ConfigError, TrainingDiverged
from netlab.training.evaluation import evaluate
from netlab.training.loop import fit, seeded_rngs
from netlab.training.progress import BatchEnd, EpochEnd, EpochStart
from netlab.training.run import build_model, train


def sample_config(**overrides):
    base = {"data.source": "sample", "training.epochs": 3}
    base.update(overrides)
    return with_overrides(Config(), base)


def test_training_learns_and_reports(device):
    events = []
    result = train(sample_config(), device=device, progress=events.append)
    h = result.fit.history
    assert [r["epoch"] for r in h] == [1, 2, 3]
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert result.test.accuracy > 0.7 and result.val.accuracy > 0.7
    assert result.test.n == 1000 and result.val.n == 600
    kinds = [type(e) for e in events]
    assert kinds.count(EpochStart) == 3 and kinds.count(EpochEnd) == 3
    assert kinds.count(BatchEnd) == 3 * math.ceil(2400 / 128)


def test_same_seed_same_numbers_on_cpu():
    a = train(sample_config(), device="cpu")
    b = train(sample_config(), device="cpu")
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(a.fit.history) == strip(b.fit.history)
    np.testing.assert_array_equal(a.model.flat, b.model.flat)
    c = train(sample_config(**{"training.seed": 1}), device="cpu")
    assert not np.array_equal(a.model.flat, c.model.flat)


def test_best_weights_are_restored_and_patience_stops():
    cfg = sample_config(
        **{
            "training.epochs": 30,
            "training.patience": 2,
            "training.lr": 0.3,
            "training.monitor": "val_loss",
            "model.init": "normal",
        }
    )
    result = train(cfg)
    h = result.fit.history
    best = min(range(len(h)), key=lambda i: h[i]["val_loss"])
    assert result.fit.best_epoch == best + 1
    assert result.val.loss == pytest.approx(h[best]["val_loss"], rel=1e-9)
    if result.fit.stopped_early:
        assert len(h) == result.fit.best_epoch + 2


def test_monitor_val_accuracy_picks_highest_accuracy():
    result = train(sample_config(**{"training.epochs": 4, "training.monitor": "val_accuracy"}))
    h = result.fit.history
    best = max(h, key=lambda r: r["val_accuracy"])  # first of the ties
    assert result.fit.best_epoch == best["epoch"]
    assert result.val.accuracy == pytest.approx(best["val_accuracy"])


def test_batch_larger_than_training_split_rejected():
    with pytest.raises(ConfigError, match="batch_size must be at most the training split size"):
        train(sample_config(**{"training.batch_size": 5000}))


def test_divergence_is_reported():
    cfg = sample_config(
        **{
            "training.lr": 1e6,
            "model.init": "normal",
            "model.activation": "relu",
            "training.epochs": 2,
        }
    )
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        train(cfg)


def sample_data(backend, normalization="standardize"):
    raw = load_data("sample")
    rng = np.random.default_rng(0)
    return prepare(raw, backend, val_fraction=0.2, normalization=normalization, rng=rng)


def test_evaluate_matches_plain_numpy():
    be = netlab.get_backend("cpu", "float64")
    cfg = sample_config()
    data = sample_data(be)
    model = build_model(cfg, 784, 10, np.random.default_rng(0), be)
    ev = evaluate(model, data.X, data.y, data.val_idx, batch_size=97, predictions=True)
    x, y = data.X[data.val_idx], data.y_host[data.val_idx]
    logits = model.logits(x)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert ev.loss == pytest.approx(-logp[np.arange(len(y)), y].mean(), rel=1e-12)
    assert ev.accuracy == pytest.approx((logits.argmax(1) == y).mean())
    np.testing.assert_array_equal(ev.predictions, logits.argmax(1))


def test_fit_uses_given_model_and_rng():
    be = netlab.get_backend("cpu")
    cfg = sample_config(**{"training.epochs": 1})
    data = sample_data(be, "scale")
    model = build_model(cfg, 784, 10, np.random.default_rng(0), be)
    before = model.flat.copy()
    res = fit(model, data, cfg.resolved(), seeded_rngs(0))
    assert res.best_epoch == 1 and not np.array_equal(before, model.flat)


@pytest.mark.cuda
def test_cpu_and_cuda_agree_in_float64():
    cfg = sample_config(**{"training.epochs": 1, "training.dtype": "float64"})
    cpu = train(cfg, device="cpu")
    gpu = train(cfg, device="cuda")
    np.testing.assert_allclose(
        gpu.backend.to_numpy(gpu.model.flat), cpu.model.flat, rtol=1e-10, atol=1e-12
    )


def test_cosine_schedule_is_recorded_and_dropout_is_seeded():
    cfg = sample_config(
        **{
            "training.schedule": "cosine",
            "training.lr": 0.05,
            "training.epochs": 4,
            "training.dropout": 0.3,
            "model.activation": "relu",
            "model.init": "he",
        }
    )
    a = train(cfg, device="cpu")
    lrs = [r["lr"] for r in a.fit.history]
    assert lrs[0] == 0.05 and lrs[2] == pytest.approx(0.025) and lrs == sorted(lrs, reverse=True)
    b = train(cfg, device="cpu")
    np.testing.assert_array_equal(a.model.flat, b.model.flat)  # masks come from the seed
    plain = train(with_overrides(cfg, {"training.dropout": 0.0}), device="cpu")
    assert not np.array_equal(a.model.flat, plain.model.flat)
    # Dropout draws from its own generator: the split and the batch order do not change.
    assert a.data.file_rows.tolist() == plain.data.file_rows.tolist()
    assert a.test.accuracy > 0.7


def test_running_train_metrics_change_only_what_is_reported():
    be = netlab.get_backend("cpu", "float64")
    cfg = sample_config(**{"training.epochs": 2, "training.dtype": "float64"})
    results = []
    for mode in ("exact", "running"):
        data = sample_data(be)
        model = build_model(cfg, 784, 10, np.random.default_rng(0), be)
        run = fit(model, data, cfg.resolved(), seeded_rngs(1), train_metrics=mode)
        results.append((run, model))
    (exact, m1), (running, m2) = results
    np.testing.assert_array_equal(m1.flat, m2.flat)  # the same training
    assert exact.history[0]["val_loss"] == running.history[0]["val_loss"]
    assert exact.history[0]["train_loss"] != running.history[0]["train_loss"]
    assert 0 < running.history[1]["train_accuracy"] <= 1
    with pytest.raises(ConfigError, match="train_metrics must be"):
        fit(m1, sample_data(be), cfg, np.random.default_rng(1), train_metrics="sometimes")
