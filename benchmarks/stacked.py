"""Stacked training, side by side: K baseline models trained as one stack vs the same K models
trained one after another, in this one process.

    OPENBLAS_NUM_THREADS=1 python benchmarks/stacked.py [--json] [--quick] [--device cpu]

Each measurement is one whole training epoch as `netlab train` runs it (the batch loop plus the
exact training and validation metrics), on Fashion-MNIST (the `sample` data with --quick), for
K in {1, 2, 4, 5, 16, 32} (--quick: {1, 4}), batch 128 and batch 1, and two kinds of stack: a
sweep of one seed (every model reads the same batches: the shared first-layer GEMM) and K seeds
(a batch per model). Batch-1 epochs run on the first --batch1-rows rows of the training split (a
full batch-1 epoch is 48,000 steps). Reports seconds per model-epoch both ways and their ratio
(> 1: the stack is faster), the median of --repeats interleaved measurements, and the peak RSS of
the process after the largest stack. The experiment executor runs one BLAS thread per worker,
so measure that way. Where Numba is installed (the `fast` extra), SGD's update is the fused step
(nn/fused_sgd.py) where it applies (at batch 1, and in a stack at every batch), and the fused
step is also timed against NumPy's passes: a batch-1 run alone and a batch-128 stack of 16 (of 4
with --quick); NETLAB_NUMBA=0 in the environment measures NumPy's passes only.

    python benchmarks/stacked.py --memory [--json]

measures peak memory instead: the peak RSS of a fresh process that trains one epoch of one
baseline run alone, of K = 32 runs of one seed as one stack, and of 32 seeds as one stack.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import resource
import statistics
import sys
import time

import numpy as np

import netlab
from netlab.config import Config, with_overrides
from netlab.experiments.study.archive import cpu_model, git_commit
from netlab.nn.optimizers import Optimizer
from netlab.training.loop import Hooks, Trainer, seeded_rngs
from netlab.training.run import build_model, load_prepared
from netlab.training.stack import StackTrainer


def configs(k: int, batch: int, kind: str, source: str, rows: int | None) -> list[Config]:
    out = []
    for i in range(k):
        over = {"data.source": source, "training.batch_size": batch, "training.epochs": 1000}
        over["training.seed" if kind == "seeds" else "training.l2"] = i if kind == "seeds" else (
            1e-4 * i)  # fmt: skip
        if batch == 1:  # the study's batch-1 runs: ReLU, lr 1.2e-4
            over["model.activation"], over["training.lr"] = "relu", 1.2e-4
        out.append(with_overrides(Config(), over))
    return out


def _truncate(data, rows: int | None) -> None:
    if rows is not None:
        data.train_idx = data.train_idx[:rows]


def solo_trainers(cfgs: list[Config], backend, rows: int | None) -> list[Trainer]:
    out = []
    for c in cfgs:
        c = c.resolved()
        rngs = seeded_rngs(c.training.seed)
        data = load_prepared(c, backend, rngs.split)
        _truncate(data, rows)
        model = build_model(c, data.n_features, data.n_classes, rngs.init, backend)
        out.append(Trainer(model, data, c, rngs, Hooks(), False, "exact"))
    return out


def stack_trainer(cfgs: list[Config], backend, rows: int | None) -> StackTrainer:
    trainer = StackTrainer([c.resolved() for c in cfgs], backend)
    seen = set()
    for m in trainer.members:
        if id(m.data) not in seen:
            seen.add(id(m.data))
            _truncate(m.data, rows)
    return trainer


def measure(k, batch, kind, args, backend) -> dict:
    rows = args.batch1_rows if batch == 1 else None
    cfgs = configs(k, batch, kind, args.source, rows)
    solos = solo_trainers(cfgs, backend, rows)
    stack = stack_trainer(cfgs, backend, rows)
    one_by_one, stacked = [], []
    for epoch in range(1, args.repeats + 1):
        start = time.perf_counter()
        for t in solos:
            t.epoch(epoch)
        backend.synchronize()
        one_by_one.append((time.perf_counter() - start) / k)
        start = time.perf_counter()
        stack.epoch(epoch)
        backend.synchronize()
        stacked.append((time.perf_counter() - start) / k)
    a, b = statistics.median(one_by_one), statistics.median(stacked)
    return {"K": k, "batch": batch, "kind": kind, "rows": rows,
            "one_by_one_s_per_model_epoch": a, "stacked_s_per_model_epoch": b,
            "speedup": a / b}  # fmt: skip


def measure_fused(batch, k, args, backend) -> dict:
    """SGD's fused step (nn/fused_sgd.py, compiled by Numba) against NumPy's passes, interleaved,
    seconds per model-epoch each way: k = 1, a baseline run alone (it fuses at batch 1 only);
    k > 1, a stack of k runs of one seed (it fuses at every batch)."""
    rows = args.batch1_rows if batch == 1 else None
    cfgs = configs(k, batch, "sweep", args.source, rows)
    if k == 1:
        fused, passes = (solo_trainers(cfgs, backend, rows)[0] for _ in range(2))
        passes.optimizer.fuses = lambda batch_size: False  # this one's steps: NumPy's passes
    else:
        fused, passes = (stack_trainer(cfgs, backend, rows) for _ in range(2))
        passes.optimizer.step = functools.partial(Optimizer.step, passes.optimizer)
    times: dict[str, list[float]] = {"fused": [], "numpy": []}
    for epoch in range(1, args.repeats + 1):
        for name, t in (("numpy", passes), ("fused", fused)):
            start = time.perf_counter()
            t.epoch(epoch)
            times[name].append((time.perf_counter() - start) / k)
    a, b = statistics.median(times["numpy"]), statistics.median(times["fused"])
    return {"batch": batch, "K": k, "rows": rows, "numpy_s_per_epoch": a,
            "fused_s_per_epoch": b, "speedup": a / b}  # fmt: skip


def _child(k: int, kind: str, source: str) -> None:
    """In a fresh process: one epoch of K runs (K = 1: a run alone); prints the peak RSS (MiB)."""
    backend = netlab.get_backend("cpu")
    cfgs = configs(k, 128, kind, source, None)
    trainer = (
        solo_trainers(cfgs, backend, None)[0] if k == 1 else stack_trainer(cfgs, backend, None)
    )
    trainer.epoch(1)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def memory(args) -> list[dict]:
    import subprocess

    rows = []
    for k, kind in ((1, "sweep"), (32, "sweep"), (32, "seeds")):
        code = f"import stacked; stacked._child({k}, {kind!r}, {args.source!r})"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, cwd=__file__.rsplit("/", 1)[0])  # fmt: skip
        rows.append({"K": k, "kind": kind, "peak_rss_mib": float(done.stdout.split()[-1])})
        if not args.json:
            print(f"{kind:<5} K={k:<2}  peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB", flush=True)
    return rows


def _warm_up(backend) -> None:
    """Compile the fused step (or load it from Numba's cache) before anything is timed: one
    batch-1 step of a small model, which has the baseline's argument types."""
    from netlab.nn.layers import MLP
    from netlab.nn.losses import softmax_cross_entropy
    from netlab.nn.optimizers import make_optimizer

    model = MLP([4, 3, 2], "relu", backend=backend, rng=np.random.default_rng(0))
    opt = make_optimizer("sgd", model, 0.1, {"l2": 1e-4})
    logits, backward = model.forward(backend.zeros((1, 4)))
    _, dlogits = softmax_cross_entropy(logits, backend.asarray(np.zeros(1, np.int64)))
    fuse = opt.fuses(1)
    factors = backward(dlogits, first_factors=fuse)
    opt.step(factors if fuse else None)


def _numba_version() -> str | None:
    try:
        import numba
    except ImportError:
        return None
    return numba.__version__


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch1-rows", type=int, default=4800)
    p.add_argument("--sizes", default="")
    p.add_argument("--memory", action="store_true")
    args = p.parse_args(argv)
    args.source = "sample" if args.quick else "fashion-mnist"
    if args.memory:
        rows = memory(args)
        if args.json:
            print(json.dumps({"memory": rows}, indent=2))
        return 0
    sizes = [1, 4] if args.quick else [1, 2, 4, 5, 16, 32]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        args.repeats, args.batch1_rows = min(args.repeats, 2), min(args.batch1_rows, 600)
    backend = netlab.get_backend(args.device)
    _warm_up(backend)
    rows = []
    for batch in (128, 1):
        for kind in ("sweep", "seeds"):
            for k in sizes:
                r = measure(k, batch, kind, args, backend)
                rows.append(r)
                print(f"batch {batch:>3} {kind:<5} K={k:<2}  one by one "
                      f"{r['one_by_one_s_per_model_epoch']:.4f} s  stacked "
                      f"{r['stacked_s_per_model_epoch']:.4f} s  per model-epoch  "
                      f"{r['speedup']:.2f}x", flush=True,
                      file=sys.stderr if args.json else sys.stdout)  # fmt: skip
    fused = []
    if backend.compiled_loops:  # the fused step against NumPy's passes
        for batch, k in ((1, 1), (128, 4 if args.quick else 16)):
            r = measure_fused(batch, k, args, backend)
            fused.append(r)
            print(f"batch {batch:>3} K={k:<2} NumPy passes {r['numpy_s_per_epoch']:.4f} s  fused "
                  f"step {r['fused_s_per_epoch']:.4f} s  per model-epoch  {r['speedup']:.2f}x",
                  flush=True, file=sys.stderr if args.json else sys.stdout)  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    env = {"python": sys.version.split()[0], "numpy": np.__version__, "netlab": netlab.__version__,
           "machine": cpu_model() or platform.machine(), "device": args.device,
           "peak_rss_mib": rss, "repeats": args.repeats, "commit": git_commit(),
           "compiled_loops": backend.compiled_loops, "numba": _numba_version()}  # fmt: skip
    if args.json:
        print(json.dumps({"environment": env, "results": rows, "fused_vs_numpy": fused},
                         indent=2))  # fmt: skip
    else:
        print(f"peak RSS {rss:.0f} MiB (the process, after every measurement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
