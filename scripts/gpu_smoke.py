"""The first 30 seconds on a lent GPU: the backend's probe (allocation, cuBLAS, NVRTC, a kernel),
then one plain CuPy step and one captured graph step from the same state, compared (the
self-check's rule, cuda/selfcheck.py). Prints one line per check; exit 1 at the first failure."""

from __future__ import annotations

import sys
import time

import numpy as np


def main() -> int:
    started = time.perf_counter()
    import netlab
    from netlab.cuda.selfcheck import self_check
    from netlab.nn.layers import MLP
    from netlab.nn.optimizers import SGD

    try:
        be = netlab.get_backend("cuda", "float32")
    except netlab.NetlabError as exc:
        print(f"probe: FAILED: {exc}")
        return 1
    print(f"probe: ok ({time.perf_counter() - started:.1f} s: allocation, cuBLAS, NVRTC, kernel)")
    rng = np.random.default_rng(0)
    model = MLP([784, 50, 50, 10], "tanh", init="xavier", rng=rng, backend=be)
    opt = SGD(model.flat, model.grad_flat, model.n_weights, lr=0.012, momentum=0.9, backend=be)
    X = be.asarray(rng.standard_normal((128, 784)), dtype=be.dtype)
    y = be.asarray(rng.integers(0, 10, 128).astype(np.int64))
    cause = self_check(model, opt, X, y, np.arange(128), 128, "batch")  # 1 plain, 1 graph step
    took = time.perf_counter() - started
    print(f"one graph step vs one plain step: {cause or 'match'} ({took:.1f} s with compiling)")
    return 1 if cause else 0


if __name__ == "__main__":
    sys.exit(main())
