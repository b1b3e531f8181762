"""The scikit-learn estimator: scikit-learn's own estimator checks, Pipelines and grid search."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason='needs the sklearn extra (pip install -e ".[sklearn]")')

from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from netlab.integrations.sklearn import MLPClassifier  # noqa: E402

# Checks this estimator is exempt from, and why (scikit-learn lists them as expected failures).
EXEMPT: dict[str, str] = {}


@parametrize_with_checks(
    [MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0)],
    expected_failed_checks=lambda estimator: EXEMPT,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


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
