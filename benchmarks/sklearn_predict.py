"""What float64 inference costs netlab's scikit-learn estimator, against float32, in one run.

    python benchmarks/sklearn_predict.py [--epochs 30]

Trains the side-by-side benchmark's pipeline (pixels / 255, StandardScaler, 784-50-50-10 tanh, SGD
lr 1.2e-2, momentum 0.9, batch 128, --epochs epochs) on the 60,000 training images, then, with one
BLAS thread, times predict_proba (float64, what the estimator does) against the same weights in
float32 on the 10,000 test images (best of 7), and compares the test accuracy and labels of both;
the same timing for a 784-1024-1024-10 ReLU network (1 epoch on 3,000 images: the cost does not
depend on the weights). Needs the sklearn extra and threadpoolctl (the dask or bench extra).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def float32_proba(clf, X: np.ndarray) -> np.ndarray:
    """The estimator's network evaluated in float32 (what it did before float64 inference)."""
    from netlab.nn.backend import get_backend
    from netlab.nn.layers import MLP
    from netlab.nn.losses import log_softmax

    sizes = [clf.coefs_[0].shape[0]] + [W.shape[1] for W in clf.coefs_]
    state = {f"W{i + 1}": W for i, W in enumerate(clf.coefs_)}
    state.update({f"b{i + 1}": b for i, b in enumerate(clf.intercepts_)})
    model = MLP(sizes, clf.activation, backend=get_backend("cpu", "float32"), state=state)
    return np.exp(log_softmax(model.logits(X.astype(np.float32))))


def best_ms(f, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from netlab.data.sources import load_data
    from netlab.integrations.sklearn import MLPClassifier

    raw = load_data("fashion-mnist")
    X = raw.x_train.reshape(60_000, -1).astype(np.float32) / np.float32(255)
    X_test = raw.x_test.reshape(10_000, -1).astype(np.float32) / np.float32(255)
    with threadpool_limits(1):
        clf = MLPClassifier((50, 50), "tanh", learning_rate_init=0.012, momentum=0.9,
                            batch_size=128, max_iter=args.epochs, random_state=0)  # fmt: skip
        pipe = make_pipeline(StandardScaler(), clf).fit(X, raw.y_train)
        Z = pipe[0].transform(X_test)
        p64, p32 = clf.predict_proba(Z), float32_proba(clf, Z)
        labels64, labels32 = clf.classes_[p64.argmax(1)], clf.classes_[p32.argmax(1)]
        print(f"784-50-50-10 tanh, {args.epochs} epochs: test accuracy "
              f"{100 * np.mean(labels64 == raw.y_test):.2f}% in float64, "
              f"{100 * np.mean(labels32 == raw.y_test):.2f}% in float32; "
              f"{int(np.sum(labels64 != labels32))} labels differ")  # fmt: skip
        big = MLPClassifier((1024, 1024), "relu", max_iter=1, random_state=0)
        big.fit(pipe[0].transform(X[:3000]), raw.y_train[:3000])
        for name, c in (("784-50-50-10", clf), ("784-1024-1024-10", big)):
            t64 = best_ms(lambda c=c: c.predict_proba(Z))
            t32 = best_ms(lambda c=c: float32_proba(c, Z))
            print(f"{name}: predict_proba on 10,000 rows, 1 BLAS thread, best of 7: "
                  f"float32 {t32:.1f} ms, float64 {t64:.1f} ms ({t64 / t32:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
