"""netlab's scikit-learn estimator vs scikit-learn's MLPClassifier on Fashion-MNIST, in one run.

    python benchmarks/sklearn_compare.py [--epochs 30] [--json out.json]

Same data (the 60,000 training images, pixels / 255 then StandardScaler inside a Pipeline; the
10,000 test images), same model (784-50-50-10 tanh), same solver settings (SGD, lr 1.2e-2,
momentum 0.9, no Nesterov, batch 128, --epochs epochs, no early stopping, no L2), BLAS pinned
to one thread for both. Reports fit time and test accuracy.
Needs the sklearn and bench extras.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkMLP
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from netlab.data.sources import load_data
    from netlab.integrations.sklearn import MLPClassifier

    raw = load_data("fashion-mnist")
    X = raw.x_train.reshape(60_000, -1).astype(np.float32) / np.float32(255)
    X_test = raw.x_test.reshape(10_000, -1).astype(np.float32) / np.float32(255)
    common = {"hidden_layer_sizes": (50, 50), "activation": "tanh", "batch_size": 128,
              "learning_rate_init": 0.012, "momentum": 0.9, "nesterovs_momentum": False,
              "max_iter": args.epochs, "early_stopping": False, "random_state": 0}  # fmt: skip
    models = {
        "netlab.integrations.sklearn.MLPClassifier": MLPClassifier(**common, alpha=0.0),
        "sklearn.neural_network.MLPClassifier": SkMLP(
            **common,
            solver="sgd",
            learning_rate="constant",
            alpha=0.0,
            tol=0.0,
            n_iter_no_change=args.epochs + 1,
            shuffle=True,
        ),  # fmt: skip
    }
    results = {}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, clf in models.items():
            pipe = make_pipeline(StandardScaler(), clf)
            start = time.perf_counter()
            pipe.fit(X, raw.y_train)
            seconds = time.perf_counter() - start
            accuracy = float(pipe.score(X_test, raw.y_test))
            results[name] = {"fit_seconds": seconds, "test_accuracy": accuracy,
                             "epochs": int(clf.n_iter_)}  # fmt: skip
            print(f"{name:40s} fit {seconds:7.1f} s  test accuracy {100 * accuracy:.2f}%  "
                  f"({clf.n_iter_} epochs)", flush=True)  # fmt: skip
    a, b = results.values()
    print(f"fit time ratio netlab / scikit-learn: {a['fit_seconds'] / b['fit_seconds']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"epochs": args.epochs, "results": results, "python": sys.version}, f, indent=2
            )


if __name__ == "__main__":
    main()
