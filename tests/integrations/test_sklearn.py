"""The scikit-learn estimator: scikit-learn's own estimator checks, Pipelines and grid search."""

from __future__ import annotations

import pickle
import warnings
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("sklearn", reason='needs the sklearn extra (pip install -e ".[sklearn]")')

from sklearn.exceptions import ConvergenceWarning, SkipTestWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks  # noqa: E402

from netlab.integrations.sklearn import ALIASES, MLPClassifier  # noqa: E402
from netlab.integrations.sklearn_data import (  # noqa: E402
    _column_stats,
    fold_into_first_layer,
    power_of_two_standardization,
    standardize_inplace,
)
from netlab.nn.activations import ACTIVATIONS  # noqa: E402

# The defaults, then one option changed at a time; every check, no exemptions.
GRID = [
    MLPClassifier(),
    *(MLPClassifier(activation=name) for name in ACTIVATIONS.names() if name != "tanh"),
    MLPClassifier(activation="logistic"),
    MLPClassifier(dropout=0.2),
    MLPClassifier(dtype="float64"),
    MLPClassifier(early_stopping=True),
]


@parametrize_with_checks(GRID)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_grid_covers_every_activation():
    assert {ALIASES.get(e.activation, e.activation) for e in GRID} == set(ACTIVATIONS.names())


def passed_checks(estimator) -> Counter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SkipTestWarning)
        results = check_estimator(estimator, on_fail=None)
    return Counter(r["check_name"] for r in results if r["status"] == "passed")


def test_early_stopping_passes_what_sklearns_own_passes():
    """Every check scikit-learn's MLPClassifier(early_stopping=True) passes, netlab's passes too,
    except the checks of two features netlab's estimator does not have (fit's sample_weight and
    multilabel targets), which scikit-learn only runs on estimators that declare them."""
    theirs = passed_checks(SklearnMLPClassifier(early_stopping=True, random_state=0))
    ours = passed_checks(MLPClassifier(early_stopping=True, random_state=0))
    missing = theirs - ours
    assert sum(theirs.values()) > 40
    assert all("sample_weight" in name or "multilabel" in name for name in missing), missing


def blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (3, 5))
    y = rng.integers(0, 3, n)
    return centers[y] + rng.normal(0, 1, (n, 5)), np.array(["a", "b", "c"])[y]


def test_fit_attributes_and_string_labels():
    X, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=20, early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=5, random_state=1)  # fmt: skip
    clf.fit(X, y)
    assert list(clf.classes_) == ["a", "b", "c"] and clf.n_features_in_ == 5
    assert 1 <= clf.n_iter_ <= 20 and len(clf.loss_curve_) == clf.n_iter_
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert [W.shape for W in clf.coefs_] == [(5, 20), (20, 3)]
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3) and np.allclose(proba.sum(1), 1)
    assert clf.score(X, y) > 0.9
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(X), proba)


def test_same_random_state_same_model():
    X, y = blobs()
    a = MLPClassifier(max_iter=5, random_state=3).fit(X, y)
    b = MLPClassifier(max_iter=5, random_state=3).fit(X, y)
    assert all(np.array_equal(p, q) for p, q in zip(a.coefs_, b.coefs_, strict=True))


def test_pipeline_and_grid_search():
    X, y = blobs(240)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=15, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)],
                               "mlpclassifier__activation": ["tanh", "relu"]}, cv=2)  # fmt: skip
    grid.fit(X, y)
    assert set(grid.best_params_) == {
        "mlpclassifier__hidden_layer_sizes",
        "mlpclassifier__activation",
    }
    assert grid.score(X, y) > 0.9


def test_bad_parameters_are_value_errors():
    X, y = blobs(50)
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPClassifier(activation="swish").fit(X, y)
    with pytest.raises(ValueError, match="training.lr must be a float > 0"):
        MLPClassifier(learning_rate_init=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier().fit(X, np.zeros(50))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_predict_proba_of_a_batch_equals_each_row_alone(activation):
    X, y = blobs(200)
    clf = MLPClassifier(activation=activation, max_iter=10, random_state=0).fit(X, y)
    batch = clf.predict_proba(X)
    alone = np.vstack([clf.predict_proba(X[i : i + 1]) for i in range(len(X))])
    order = np.random.default_rng(1).permutation(len(X))
    # float64 rounding only (1e-16 relative); scikit-learn's own checks ask for 1e-7
    np.testing.assert_allclose(alone, batch, rtol=1e-12, atol=0)
    np.testing.assert_allclose(clf.predict_proba(X[order]), batch[order], rtol=1e-12, atol=0)
    assert batch.dtype == np.float64 and clf.coefs_[0].dtype == np.float64


def test_inputs_are_checked_before_the_early_stopping_split():
    X, y = blobs(10)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier(early_stopping=True).fit(X, y)
    X[0, 0] = 0.0
    clf = MLPClassifier(early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == 3  # rounding left no validation row: one is held out
    with pytest.raises(ValueError, match="validation_fraction must be in"):
        MLPClassifier(early_stopping=True, validation_fraction=1.0).fit(X, y)


def test_standardization_is_exact_and_folded_into_coefs():
    X, _ = blobs(300)
    Xs = StandardScaler().fit_transform(X).astype(np.float32)
    shift, scale = power_of_two_standardization(Xs)
    assert not shift.any() and (scale == 1).all()
    before = Xs.copy()
    standardize_inplace(Xs, shift, scale)
    assert np.array_equal(Xs, before)  # standardized inputs reach the network bit for bit
    raw = 100.0 + 3.0 * X  # the scale of scikit-learn's checks' inputs
    mean, std = _column_stats(raw, step=7)  # chunked: 43 chunks of rows
    np.testing.assert_allclose(mean, raw.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, raw.std(0), rtol=1e-9)
    shift, scale = power_of_two_standardization(raw)
    assert set(np.log2(scale)) <= set(range(-1, 6)) and np.all(np.abs(shift) > 50)
    Z = raw.copy()
    standardize_inplace(Z, shift, scale)
    assert np.all(np.abs(Z.mean(0)) <= 0.5 + 1e-9)
    assert np.all((Z.std(0) > 0.7) & (Z.std(0) < 1.42))
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    Wf, bf = fold_into_first_layer(W, b, shift, scale)
    np.testing.assert_allclose(raw @ Wf + bf, Z @ W.astype(np.float64) + b, rtol=1e-9, atol=1e-9)


def test_shifted_inputs_train_as_well_as_centred_ones():
    # Features around 100 (as in scikit-learn's checks) made SGD at the default rate diverge with
    # leaky_relu before the estimator standardized its inputs.
    X, y = blobs(200)
    for name in ACTIVATIONS.names():
        centred = MLPClassifier(activation=name, max_iter=30, random_state=0).fit(X, y)
        shifted = MLPClassifier(activation=name, max_iter=30, random_state=0).fit(100.0 + X, y)
        assert abs(shifted.score(100.0 + X, y) - centred.score(X, y)) <= 0.02, name
