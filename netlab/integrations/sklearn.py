"""A scikit-learn estimator that trains with netlab: fit / predict / predict_proba / score, usable
in Pipelines and GridSearchCV, on the CPU or a CUDA GPU (the `sklearn` extra).

The training is netlab's own (training.loop.fit: explicit backprop, SGD with momentum, the
best-validation epoch restored when early_stopping is on). Two things make it hold scikit-learn's
contract on any input:
- each feature is shifted and divided by a power of two near its spread before training
  (sklearn_data.py; exact, so inputs a StandardScaler has standardized pass unchanged), and the
  transform is folded into the first layer, so coefs_ apply to the raw inputs;
- predictions are computed in float64 whatever the training dtype, so a row's probabilities do
  not depend on which other rows are asked with it (in float32, BLAS picks kernels and blocking by
  the number of rows, and the last bits it changes exceed scikit-learn's rtol of 1e-7).
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised by the optional-extras test
    from ..errors import NetlabError

    raise NetlabError(
        'netlab.integrations.sklearn needs scikit-learn; pip install -e ".[sklearn]" from the '
        "netlab checkout"
    ) from exc

from ..errors import ConfigError
from .sklearn_data import (
    fold_into_first_layer,
    power_of_two_standardization,
    standardize_inplace,
    validation_split,
)

ALIASES = {"logistic": "sigmoid"}  # scikit-learn's names for netlab's activations


def activation_names() -> tuple[str, ...]:
    """Every registered activation, plus scikit-learn's aliases of them."""
    from ..nn.activations import ACTIVATIONS

    return (*ACTIVATIONS.names(), *ALIASES)


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained by netlab.

    Parameters mirror scikit-learn's MLPClassifier where they mean the same thing:
        hidden_layer_sizes: widths of the hidden layers.
        activation: any registered activation (tanh, sigmoid, relu, leaky_relu, gelu, silu, ...),
            or scikit-learn's "logistic" (= "sigmoid").
        init: "xavier", "he", "normal" (N(0, 1), the study's), or "auto" (He for the ReLU family,
            Xavier otherwise).
        learning_rate_init, momentum, nesterovs_momentum, batch_size: SGD settings
            (batch_size is capped at the training set size).
        lr_schedule: "constant" or "cosine" (netlab's; decays to 0 over max_iter epochs).
        alpha: L2 strength as netlab (and the study) define it: the gradient gets + 2*alpha*W.
            scikit-learn's own alpha adds alpha*W/n_samples instead.
        dropout: share of hidden units dropped per training step.
        max_iter: epochs.
        early_stopping: hold out validation_fraction (stratified) and keep the epoch with the
            best validation accuracy; stop after n_iter_no_change epochs without improvement.
        device: "cpu", "cuda", "cuda:N" or "auto"; dtype: "float32" or "float64".
        random_state: seeds the split, the initial weights, the batch order and dropout.

    Attributes after fit: classes_, n_features_in_, n_iter_, loss_curve_ (mean training loss
    over each epoch's batches, each measured before its update, as scikit-learn's),
    validation_scores_ (validation accuracy per epoch, or None), best_validation_score_,
    coefs_, intercepts_ (float64 host arrays, for the raw inputs), history_ (netlab's per-epoch
    records).
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (50, 50),
        activation: str = "tanh",
        *,
        init: str = "auto",
        learning_rate_init: float = 0.012,
        lr_schedule: str = "constant",
        momentum: float = 0.9,
        nesterovs_momentum: bool = False,
        alpha: float = 0.0,
        dropout: float = 0.0,
        batch_size: int = 128,
        max_iter: int = 100,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        device: str = "cpu",
        dtype: str = "float32",
        random_state: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.learning_rate_init = learning_rate_init
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.alpha = alpha
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    def _config(self, n_train: int, seed: int) -> Any:
        from ..config import config_from_dict

        if self.activation not in activation_names():
            raise ValueError(
                f"activation must be one of {', '.join(map(repr, activation_names()))}; "
                f"got {self.activation!r}"
            )
        activation = ALIASES.get(self.activation, self.activation)
        init = self.init
        if init == "auto":
            init = "he" if activation in ("relu", "leaky_relu") else "xavier"
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, int | np.integer) else list(hidden)
        raw = {
            "model": {"hidden": [int(h) for h in hidden], "activation": activation, "init": init},
            "training": {
                "epochs": self.max_iter,
                "batch_size": max(1, min(int(self.batch_size), n_train)),
                "lr": self.learning_rate_init,
                "schedule": self.lr_schedule,
                "momentum": self.momentum,
                "nesterov": bool(self.nesterovs_momentum),
                "l2": self.alpha,
                "dropout": self.dropout,
                "patience": self.n_iter_no_change if self.early_stopping else 0,
                "monitor": "val_accuracy",
                "seed": seed,
                "dtype": self.dtype,
            },
        }
        try:
            return config_from_dict(raw, origin="MLPClassifier", name="sklearn")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train on X (n_samples, n_features) and labels y; inputs are validated (finite,
        2-D, at least 2 classes) before anything else, the early-stopping split included."""
        from ..training.loop import seeded_rngs

        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "MLPClassifier needs samples of at least 2 classes; got 1 class "
                f"({self.classes_[0]!r})"
            )
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        rngs = seeded_rngs(seed)
        if self.early_stopping:
            train_rows, val_rows = validation_split(y_enc, self.validation_fraction, rngs.split)
        else:
            train_rows, val_rows = np.arange(len(X)), np.arange(0)
        config = self._config(len(train_rows), seed)
        shift, scale = power_of_two_standardization(X)  # as a StandardScaler in front sees it
        rows = np.concatenate([train_rows, val_rows])
        X_rows = X[rows]  # a copy (fancy indexing), training rows first
        standardize_inplace(X_rows, shift, scale)
        model, result = self._train(X_rows, y_enc[rows], len(train_rows), config, rngs)
        state = model.state()
        layers = len(model.sizes) - 1
        self.coefs_ = [state[f"W{i}"].astype(np.float64) for i in range(1, layers + 1)]
        self.intercepts_ = [state[f"b{i}"].astype(np.float64) for i in range(1, layers + 1)]
        self.coefs_[0], self.intercepts_[0] = fold_into_first_layer(
            self.coefs_[0], self.intercepts_[0], shift, scale
        )
        self.history_ = result.history
        self.n_iter_ = len(result.history)
        self.loss_curve_ = [r["train_loss"] for r in result.history]
        if self.early_stopping:
            self.validation_scores_ = [r["val_accuracy"] for r in result.history]
            self.best_validation_score_ = max(self.validation_scores_)
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self.n_layers_ = layers + 1
        self.n_outputs_ = len(self.classes_)
        self.out_activation_ = "softmax"
        self._predictor = self._float64_model(rebuild=True)
        return self

    def _train(self, X: np.ndarray, y: np.ndarray, n_train: int, config: Any, rngs: Any) -> Any:
        """netlab's training loop on rows X[:n_train] (validation: the rest) -> (model, result)."""
        from ..data.prepare import Prepared
        from ..nn.backend import get_backend
        from ..training.loop import fit
        from ..training.run import build_model

        try:
            backend = get_backend(self.device, self.dtype)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        Xd = backend.asarray(np.ascontiguousarray(X), dtype=backend.dtype)
        yd = backend.asarray(y.astype(np.int64))
        n, n_classes = len(X), len(self.classes_)
        data = Prepared(
            X=Xd, y=yd, y_host=y, train_idx=np.arange(n_train), val_idx=np.arange(n_train, n),
            X_test=Xd[:0], y_test=yd[:0], y_test_host=y[:0],
            mean=np.zeros(X.shape[1]), std=np.ones(X.shape[1]), location="arrays",
            checksums_ok=None, n_classes=n_classes, class_names=tuple(map(str, self.classes_)),
            source="arrays", scale=1.0,
        )  # fmt: skip
        model = build_model(config, X.shape[1], n_classes, rngs.init, backend)
        return model, fit(model, data, config, rngs, train_metrics="running")

    # ------------------------------------------------------------------ predict

    def _float64_model(self, rebuild: bool = False) -> Any:
        """The fitted network in float64 on the estimator's device, for every prediction.

        float64 sums make each row's result independent of the batch it is computed in to far
        below scikit-learn's rtol of 1e-7 (float32 does not: 1 ulp is 6e-8, and BLAS picks its
        kernels and blocking by the number of rows). Built by fit, and again after unpickling.
        """
        model = None if rebuild else getattr(self, "_predictor", None)
        if model is None:
            from ..nn.backend import get_backend
            from ..nn.layers import MLP

            sizes = [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]
            state = {f"W{i + 1}": W for i, W in enumerate(self.coefs_)}
            state.update({f"b{i + 1}": b for i, b in enumerate(self.intercepts_)})
            model = MLP(sizes, ALIASES.get(self.activation, self.activation), init="xavier",
                        backend=get_backend(self.device, "float64"), state=state)  # fmt: skip
            self._predictor = model
        return model

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes) float64, computed in float64."""
        from ..nn.losses import log_softmax

        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        model = self._float64_model()
        be = model.backend
        out = []
        for start in range(0, len(X), 8192):
            x = be.asarray(np.ascontiguousarray(X[start : start + 8192]), dtype=be.dtype)
            out.append(be.to_numpy(be.xp.exp(log_softmax(model.logits(x)))))
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coefs_")
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coefs_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_predictor", None)  # device arrays do not pickle; coefs_ do
        return state
