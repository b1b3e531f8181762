"""A scikit-learn estimator that trains with netlab: fit / predict / predict_proba / score, usable
in Pipelines and GridSearchCV, on the CPU or a CUDA GPU (the `sklearn` extra).

The training is netlab's own (train.fit: explicit backprop, SGD with momentum, the best-validation
epoch restored when early_stopping is on); inputs are used as given, so put a StandardScaler in
front of it as with scikit-learn's own MLPClassifier.
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
    coefs_, intercepts_ (host arrays), history_ (netlab's per-epoch records).
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
        from ..data.prepare import Prepared, stratified_split
        from ..nn.backend import get_backend
        from ..training.loop import fit, seeded_rngs
        from ..training.run import build_model

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
        n = len(X)
        if self.early_stopping:
            if not 0.0 < self.validation_fraction < 1.0:
                raise ValueError(
                    f"validation_fraction must be in (0, 1); got {self.validation_fraction!r}"
                )
            train_rows, val_rows = stratified_split(y_enc, self.validation_fraction, rngs.split)
            if len(train_rows) == 0 or len(val_rows) == 0:
                raise ValueError(
                    f"validation_fraction {self.validation_fraction} leaves an empty split of "
                    f"{n} samples; use more samples or early_stopping=False"
                )
        else:
            train_rows, val_rows = np.arange(n), np.arange(0)
        config = self._config(len(train_rows), seed)
        try:
            backend = get_backend(self.device, self.dtype)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        rows = np.concatenate([train_rows, val_rows])
        Xd = backend.asarray(np.ascontiguousarray(X[rows]), dtype=backend.dtype)
        yd = backend.asarray(y_enc[rows].astype(np.int64))
        data = Prepared(
            X=Xd,
            y=yd,
            y_host=y_enc[rows],
            train_idx=np.arange(len(train_rows)),
            val_idx=np.arange(len(train_rows), n),
            X_test=Xd[:0],
            y_test=yd[:0],
            y_test_host=y_enc[:0],
            mean=np.zeros(X.shape[1]),
            std=np.ones(X.shape[1]),
            location="arrays",
            checksums_ok=None,
            n_classes=len(self.classes_),
            class_names=tuple(str(c) for c in self.classes_),
            source="arrays",
            scale=1.0,
        )
        model = build_model(config, X.shape[1], len(self.classes_), rngs.init, backend)
        result = fit(model, data, config, rngs, train_metrics="running")
        state = model.state()
        layers = len(model.sizes) - 1
        self.coefs_ = [state[f"W{i}"] for i in range(1, layers + 1)]
        self.intercepts_ = [state[f"b{i}"] for i in range(1, layers + 1)]
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
        self._model = model
        return self

    # ------------------------------------------------------------------ predict

    def _device_model(self) -> Any:
        model = getattr(self, "_model", None)
        if model is None:  # after unpickling: rebuild on the device from the host arrays
            from ..nn.backend import get_backend
            from ..nn.layers import MLP

            sizes = [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]
            state = {f"W{i + 1}": W for i, W in enumerate(self.coefs_)}
            state.update({f"b{i + 1}": b for i, b in enumerate(self.intercepts_)})
            model = MLP(sizes, ALIASES.get(self.activation, self.activation), init="xavier",
                        backend=get_backend(self.device, self.dtype), state=state)  # fmt: skip
            self._model = model
        return model

    def predict_proba(self, X: Any) -> np.ndarray:
        from ..nn.losses import log_softmax

        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        model = self._device_model()
        be = model.backend
        out = []
        for start in range(0, len(X), 8192):
            x = be.asarray(np.ascontiguousarray(X[start : start + 8192]), dtype=be.dtype)
            out.append(be.to_numpy(be.xp.exp(log_softmax(model.logits(x)))))
        proba = np.concatenate(out) if out else np.zeros((0, len(self.classes_)))
        return proba.astype(np.float64)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coefs_")
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coefs_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_model", None)  # device arrays and modules do not pickle; coefs_ do
        return state
