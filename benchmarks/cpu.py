"""CPU speed, side by side: netlab vs PyTorch (nn.Sequential + SGD) vs scikit-learn MLPClassifier.

    python benchmarks/cpu.py [--epochs 7] [--json] [--skip-large]

Same data (Fashion-MNIST training split, standardized), same model, same batch, same optimizer
settings; epochs of the libraries are interleaved in this one process, with a pause before each
timed epoch so idle BLAS threads of one library do not slow the next. Reports median seconds per
training epoch (no evaluation) and netlab's ratio to each peer. Needs the bench extra:
pip install -e ".[bench]".
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings

import numpy as np

import netlab
from netlab.config import Config, with_overrides
from netlab.data.prepare import prepare
from netlab.data.sources import load_data
from netlab.training.epoch import train_epoch
from netlab.training.loop import seeded_rngs
from netlab.training.run import build_model

PAUSE = 0.25
CASES = {
    "baseline": {"hidden": (50, 50), "activation": "tanh", "batch_size": 128, "lr": 0.012},
    "large": {"hidden": (1024, 1024), "activation": "relu", "batch_size": 512, "lr": 0.012},
}


def training_split(source: str):
    backend = netlab.get_backend("cpu")
    data = prepare(
        load_data(source), backend, val_fraction=0.2, normalization="standardize",
        rng=seeded_rngs(0).split,
    )  # fmt: skip
    X = np.ascontiguousarray(data.X[data.train_idx])
    y = data.y_host[data.train_idx]
    return X, y


class NetlabRunner:
    name = "netlab"

    def __init__(self, case: dict, X: np.ndarray, y: np.ndarray) -> None:
        config = with_overrides(
            Config(),
            {
                "model.hidden": case["hidden"],
                "model.activation": case["activation"],
                "training.batch_size": case["batch_size"],
                "training.lr": case["lr"],
            },
        )
        backend = netlab.get_backend("cpu")
        rngs = seeded_rngs(0)
        self.rng = rngs.shuffle
        self.model = build_model(config, X.shape[1], 10, rngs.init, backend)
        self.opt = netlab.SGD(
            self.model.flat,
            self.model.grad_flat,
            self.model.n_weights,
            lr=case["lr"],
            momentum=0.9,
            backend=backend,
        )
        self.X, self.y, self.batch = X, y, case["batch_size"]

    def epoch(self) -> None:
        order = self.rng.permutation(len(self.X))
        with np.errstate(over="ignore", invalid="ignore"):
            train_epoch(self.model, self.opt, self.X, self.y, order, self.batch, "batch")


class TorchRunner:
    name = "pytorch"

    def __init__(self, case: dict, X: np.ndarray, y: np.ndarray) -> None:
        import torch

        self.torch = torch
        torch.manual_seed(0)
        act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[case["activation"]]
        sizes = [X.shape[1], *case["hidden"], 10]
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(act())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=case["lr"], momentum=0.9)
        self.loss = torch.nn.CrossEntropyLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.batch = case["batch_size"]
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> None:
        torch = self.torch
        order = torch.randperm(len(self.X), generator=self.gen)
        for start in range(0, len(order), self.batch):
            idx = order[start : start + self.batch]
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(self.model(self.X[idx]), self.y[idx])
            loss.backward()
            self.opt.step()


class SklearnRunner:
    name = "scikit-learn"

    def __init__(self, case: dict, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(
            hidden_layer_sizes=case["hidden"],
            activation=case["activation"],
            solver="sgd",
            learning_rate_init=case["lr"],
            momentum=0.9,
            nesterovs_momentum=False,
            batch_size=case["batch_size"],
            alpha=0.0,
            shuffle=True,
            random_state=0,
        )
        self.X, self.y = X, y
        self.classes = np.arange(10)

    def epoch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.partial_fit(self.X, self.y, classes=self.classes)


def run_case(case_name: str, runners: list, epochs: int, log) -> dict:
    for r in runners:  # warm-up epoch each (allocations, BLAS thread start)
        r.epoch()
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for e in range(epochs):
        for r in runners:
            time.sleep(PAUSE)
            start = time.perf_counter()
            r.epoch()
            times[r.name].append(time.perf_counter() - start)
        log(
            f"  {case_name} epoch {e + 1}/{epochs}: "
            + ", ".join(f"{n} {t[-1]:.3f}s" for n, t in times.items())
        )
    medians = {n: statistics.median(t) for n, t in times.items()}
    ratios = {f"netlab/{n}": medians["netlab"] / m for n, m in medians.items() if n != "netlab"}
    return {"median_seconds": medians, "ratios": ratios, "epoch_seconds": times}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=7, help="timed epochs per library (median)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary only")
    parser.add_argument("--skip-large", action="store_true", help="only the baseline model")
    parser.add_argument("--only", choices=sorted(CASES), help="run one case")
    parser.add_argument("--data", default="fashion-mnist", choices=["fashion-mnist", "sample"])
    args = parser.parse_args()
    log = (lambda *_: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        import sklearn
        import torch
    except ImportError as exc:
        print(f'error: {exc.name} is missing; pip install -e ".[bench]"', file=sys.stderr)
        return 1
    X, y = training_split(args.data)
    results = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "netlab": netlab.__version__,
            "torch_threads": torch.get_num_threads(),
            "processor": platform.processor() or platform.machine(),
        },
        "train_examples": int(len(X)),
        "cases": {},
    }
    cases = ["baseline"] if args.skip_large else ["baseline", "large"]
    if args.only:
        cases = [args.only]
    for name in cases:
        case = CASES[name]
        log(
            f"{name}: 784-{'-'.join(map(str, case['hidden']))}-10 {case['activation']}, "
            f"batch {case['batch_size']}, {len(X)} examples"
        )
        peers = [TorchRunner] + ([SklearnRunner] if name == "baseline" else [])
        runners = [NetlabRunner(case, X, y)] + [p(case, X, y) for p in peers]
        results["cases"][name] = {
            "case": {**case, "hidden": list(case["hidden"])},
            **run_case(name, runners, args.epochs, log),
        }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"\n{'case':<10} {'library':<14} {'median s/epoch':>15} {'netlab ratio':>13}")
        for name, res in results["cases"].items():
            for lib, med in res["median_seconds"].items():
                ratio = "" if lib == "netlab" else f"{res['ratios'][f'netlab/{lib}']:.2f}"
                print(f"{name:<10} {lib:<14} {med:>15.3f} {ratio:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
