"""GPU speed, side by side on one GPU: netlab graph mode and eager mode vs PyTorch eager and
PyTorch with its training step captured as a CUDA graph, plus the cuBLAS fp32 matmul ceiling.

    python benchmarks/gpu.py [--epochs 7] [--json results.json] [--data fashion-mnist|synthetic]
                             [--variants] [--sweep]

Cases: the study's baseline (784-50-50-10 tanh, batch 128, 375 steps per epoch) and
784-4096-4096-10 ReLU at batch 4096. Each runner trains the same data with SGD (momentum 0.9);
after a warm-up epoch, the median of --epochs device-synchronized epochs is reported (training
only, no evaluation). TFLOP/s count the multiply-adds the code does (netlab.cuda.graph.step_macs:
forward and dW for every layer, dx for all but the first), 2 FLOPs each. The baseline is also
trained for 100 epochs as a user trains it (graph mode where it applies, not forced) to report its
test accuracy. The JSON file (--json) is rewritten after every section, with each failed section's
error under "errors", so a failed or timed-out section leaves the others.
--variants: the baseline in graph mode once per kernel variant (netlab.cuda.sources.VARIANTS:
FMA on, 8 x 8 tiles, coalesced transposed loads, parallel column sums, all of them), each with
the self-check's verdict against eager. --sweep: graph vs eager per step size, to place
graph_plan's MAX_STEP_MACS where graph mode stops winning.
Needs CuPy (PyTorch with CUDA for its rows); exits 2 with one line when there is no GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

CASES = {
    "baseline": {"hidden": (50, 50), "activation": "tanh", "batch_size": 128, "lr": 0.012},
    "large": {"hidden": (4096, 4096), "activation": "relu", "batch_size": 4096, "lr": 0.012},
}


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def load(source: str):
    """Training split (48,000 rows, standardized) as host arrays; synthetic data of the same shape
    when the real files are absent (speed does not depend on the values)."""
    import netlab
    from netlab.data.prepare import prepare
    from netlab.data.sources import load_data
    from netlab.training.loop import seeded_rngs

    if source == "synthetic":
        rng = np.random.default_rng(0)
        return rng.standard_normal((48_000, 784)).astype(np.float32), rng.integers(0, 10, 48_000)
    data = prepare(
        load_data(source), netlab.get_backend("cpu"), val_fraction=0.2,
        normalization="standardize", rng=seeded_rngs(0).split,
    )  # fmt: skip
    return np.ascontiguousarray(data.X[data.train_rows]), data.y_host[data.train_rows]


def flops_per_epoch(case: dict, n: int) -> float:
    """FLOPs of one epoch over n rows as netlab and PyTorch compute it: no gradient of the input
    (31% of the old count, 6 FLOPs per weight and row, was the first layer's dx for the
    baseline, so its TFLOP/s were 1.45x too high)."""
    from netlab.cuda.graph import step_macs

    return 2.0 * step_macs([784, *case["hidden"], 10], n)


def median_epoch(run_epoch, sync, epochs: int) -> float:
    run_epoch()  # warm-up: compilation, memory pools, graph capture
    sync()
    times = []
    for _ in range(epochs):
        sync()
        start = time.perf_counter()
        run_epoch()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def netlab_runner(case: dict, X, y, graph: bool, variant=None, verdict=None):
    """(one epoch, sync) of netlab; with verdict (a dict), verdict["self_check"] gets the
    self-check's result for this variant ("" when it matches eager)."""
    import netlab
    from netlab.config import Config, with_overrides
    from netlab.cuda.graph import GraphEpoch
    from netlab.training.epoch import train_epoch
    from netlab.training.loop import seeded_rngs
    from netlab.training.run import build_model

    config = with_overrides(
        Config(),
        {"model.hidden": case["hidden"], "model.activation": case["activation"],
         "model.init": "he" if case["activation"] == "relu" else "xavier",
         "training.batch_size": case["batch_size"], "training.lr": case["lr"]},
    )  # fmt: skip
    be = netlab.get_backend("cuda", "float32")
    rngs = seeded_rngs(0)
    shuffle_rng = rngs.shuffle
    model = build_model(config, 784, 10, rngs.init, be)
    opt = netlab.SGD(model.flat, model.grad_flat, model.n_weights, lr=case["lr"], momentum=0.9,
                     backend=be)  # fmt: skip
    Xd, yd = be.asarray(X), be.asarray(y, dtype=np.int64)
    n = len(X)
    if verdict is not None:
        from netlab.cuda.selfcheck import self_check

        verdict["self_check"] = self_check(model, opt, Xd, yd, np.arange(n), case["batch_size"],
                                           "batch", variant=variant)  # fmt: skip
    if graph:
        runner = GraphEpoch(model, opt, Xd, yd, n, case["batch_size"], "batch", variant=variant)
        return (lambda: runner.run(shuffle_rng.permutation(n), case["lr"])), be.synchronize
    return (
        lambda: train_epoch(model, opt, Xd, yd, shuffle_rng.permutation(n), case["batch_size"],
                            "batch")
    ), be.synchronize  # fmt: skip


def torch_runner(case: dict, X, y, graph: bool):
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    torch.manual_seed(0)
    act = torch.nn.Tanh if case["activation"] == "tanh" else torch.nn.ReLU
    sizes = [784, *case["hidden"], 10]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=case["lr"], momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xd, yd = torch.as_tensor(X, device=dev), torch.as_tensor(y, device=dev)
    n, b = len(X), case["batch_size"]
    gen = torch.Generator(device=dev).manual_seed(0)

    def eager_epoch():
        perm = torch.randperm(n, device=dev, generator=gen)
        for start in range(0, n, b):
            idx = perm[start : start + b]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xd[idx]), yd[idx]).backward()
            opt.step()

    if not graph:
        return eager_epoch, torch.cuda.synchronize
    # The PyTorch recipe: static inputs, warm-up on a side stream, capture forward, backward and
    # the optimizer step, then per step copy the batch in and replay.
    static_x, static_y = Xd[:b].clone(), yd[:b].clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(static_x), static_y).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(side)
    graph_ = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph_):
        loss_fn(model(static_x), static_y).backward()
        opt.step()

    def graph_epoch():
        perm = torch.randperm(n, device=dev, generator=gen)
        for start in range(0, n - b + 1, b):  # full batches only: the graph has static shapes
            idx = perm[start : start + b]
            static_x.copy_(Xd[idx])
            static_y.copy_(yd[idx])
            graph_.replay()

    return graph_epoch, torch.cuda.synchronize


def matmul_ceiling(size: int = 8192, repeats: int = 10) -> float:
    """TFLOP/s of a cuBLAS fp32 size^3 matmul (CuPy; TF32 off by default)."""
    import cupy as cp

    rng = np.random.default_rng(0)  # on the host: no cuRAND needed
    a = cp.asarray(rng.standard_normal((size, size), dtype=np.float32))
    b = cp.asarray(rng.standard_normal((size, size), dtype=np.float32))
    c = a @ b
    cp.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        cp.matmul(a, b, out=c)
        cp.cuda.get_current_stream().synchronize()
        times.append(time.perf_counter() - start)
    return 2.0 * size**3 / statistics.median(times) / 1e12


def baseline_accuracy(source: str) -> dict:
    """The baseline config for 100 epochs on the GPU as a user trains it (graph mode where it
    applies, not forced: a fallback to eager is recorded, not an error): test accuracy, time."""
    from netlab.config import Config, with_overrides
    from netlab.training.progress import Notice
    from netlab.training.run import train

    if source == "synthetic":
        return {}
    notes: list[str] = []
    seen = lambda e: notes.append(e.text) if isinstance(e, Notice) else None  # noqa: E731
    result = train(with_overrides(Config(), {"data.source": source}), device="cuda", progress=seen)
    return {
        "test_accuracy": result.test.accuracy,
        "best_epoch": result.fit.best_epoch,
        "fit_seconds": result.fit.seconds,
        "mode": "eager (" + "; ".join(notes) + ")" if notes else "graph mode",
    }


def run_cases(args, X, y, results: dict, have_torch: bool) -> None:
    runners = [(netlab_runner, True, "netlab graph"), (netlab_runner, False, "netlab eager")]
    if have_torch:
        runners += [(torch_runner, False, "PyTorch eager")]
        runners += [(torch_runner, True, "PyTorch CUDA graph")]
    for name, case in CASES.items():
        if name == "large" and args.skip_large:
            continue
        Xc, yc = (X, y) if name == "baseline" else (X[:40_960], y[:40_960])  # 10 full batches
        rows = {}
        for runner, graph, label in runners:
            if name == "large" and label == "netlab graph":
                continue  # a GEMM-bound step trains eagerly with cuBLAS (graph.graph_plan)
            rows[label] = timed(name, label, case, Xc, *runner(case, Xc, yc, graph), args.epochs)
        results["cases"][name] = rows


def timed(name: str, label: str, case: dict, X, epoch, sync, epochs: int) -> dict:
    seconds = median_epoch(epoch, sync, epochs)
    row = {"seconds_per_epoch": seconds, "tflops": flops_per_epoch(case, len(X)) / seconds / 1e12}
    print(f"{name:9s} {label:34s} {seconds:.4f} s/epoch {row['tflops']:.2f} TFLOP/s", flush=True)
    return row


def run_variants(args, X, y, results: dict) -> None:
    """The baseline in graph mode with each kernel variant, side by side, each self-checked."""
    from netlab.cuda.sources import VARIANTS

    case, rows = CASES["baseline"], {}
    for name, variant in VARIANTS.items():
        verdict: dict = {}
        epoch, sync = netlab_runner(case, X, y, True, variant, verdict)
        rows[name] = timed("variant", f"netlab graph {name}", case, X, epoch, sync, args.epochs)
        rows[name]["self_check"] = verdict["self_check"] or "matches eager"
        results["variants"] = rows
    results["fastest_variant"] = fastest_variant(rows)


def fastest_variant(rows: dict) -> str | None:
    """The variant to train with, picked by measurement: the fastest whose self-check matches
    eager (None when none does). "netlab eager" (cuBLAS) is the comparison in the cases."""
    ok = {k: r["seconds_per_epoch"] for k, r in rows.items() if r["self_check"] == "matches eager"}
    return min(ok, key=ok.get) if ok else None


def run_sweep(args, X, y, results: dict) -> None:
    """Graph vs eager per multiply-adds per step (784-w-w-10 tanh), on 8,192 rows."""
    from netlab.cuda.graph import step_macs

    rows = []
    for batch in (128, 1024):
        for width in (128, 512, 1024, 2048, 4096):
            case = {**CASES["baseline"], "hidden": (width, width), "batch_size": batch}
            row = {"batch": batch, "width": width,
                   "step_macs": step_macs([784, width, width, 10], batch)}  # fmt: skip
            for graph, label in ((True, "graph"), (False, "eager")):
                epoch, sync = netlab_runner(case, X[:8192], y[:8192], graph)
                tag = f"b{batch} w{width} {label}"
                timing = timed("sweep", tag, case, X[:8192], epoch, sync, 2)
                row[label] = timing["seconds_per_epoch"]
            rows.append(row)
    results["sweep"] = rows


def sections(args, X, y, source: str, have_torch: bool) -> list:
    """(name, run(results)) of every section asked for, in the order they run."""
    out = [("cublas_ceiling", lambda r: r.update(cublas_fp32_8192_tflops=matmul_ceiling())),
           ("cases", lambda r: run_cases(args, X, y, r, have_torch))]  # fmt: skip
    if args.variants:
        out.append(("variants", lambda r: run_variants(args, X, y, r)))
    if args.sweep:
        out.append(("sweep", lambda r: run_sweep(args, X, y, r)))
    if not args.skip_accuracy:
        out.append(("accuracy", lambda r: r.update(baseline_100_epochs=baseline_accuracy(source))))
    return out


def run_sections(todo: list, results: dict, path: str | None) -> None:
    """Run each section; a failure is recorded in results["errors"] and the others still run.
    The JSON file is rewritten after every section, so a section the caller's timeout kills
    leaves the earlier ones on disk."""
    results.setdefault("errors", {})
    for name, run in todo:
        started = time.perf_counter()
        try:
            run(results)
        except Exception as exc:  # any failure of one section: record it, go on with the next
            text = " ".join(str(exc).split())[:300]
            results["errors"][name] = f"{type(exc).__name__}: {text}"
            print(f"error in section {name}: {results['errors'][name]}", file=sys.stderr)
        results.setdefault("section_seconds", {})[name] = time.perf_counter() - started
        if path:
            with open(path, "w") as f:
                json.dump(results, f, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--json", default=None, help="write the results here after every section")
    parser.add_argument("--data", default="fashion-mnist", choices=("fashion-mnist", "synthetic"))
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--variants", action="store_true", help="compare the kernel variants")
    parser.add_argument("--sweep", action="store_true", help="graph vs eager per step size")
    args = parser.parse_args()
    cupy = gpu_or_exit()
    try:
        import torch

        have_torch = torch.cuda.is_available()
    except ImportError:
        have_torch = False
    if not have_torch:
        print("note: PyTorch with CUDA is not installed; its rows are skipped", file=sys.stderr)
    try:
        X, y = load(args.data)
        source = args.data
    except Exception as exc:  # the real files are not on this machine
        print(f"note: using synthetic data ({exc})", file=sys.stderr)
        X, y = load("synthetic")
        source = "synthetic"
    props = cupy.cuda.runtime.getDeviceProperties(0)
    results = {
        "gpu": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
        "cupy": cupy.__version__,
        "torch": torch.__version__ if have_torch else None,
        "data": source,
        "cases": {},
    }
    run_sections(sections(args, X, y, source, have_torch), results, args.json)
    summarize(results)


def gpu_or_exit():
    """CuPy with a visible GPU, or exit 2 with one line."""
    try:
        import cupy
    except ImportError:
        fail("benchmarks/gpu.py needs CuPy (cupy is missing); pip install -e '.[cuda12]' or "
             "'.[cuda13]' (netlab doctor says which)")  # fmt: skip
    try:
        gpus = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver: CUDARuntimeError
        fail(f"benchmarks/gpu.py needs a CUDA GPU; none is visible ({type(exc).__name__})")
    if gpus < 1:
        fail("benchmarks/gpu.py needs a CUDA GPU; none is visible")
    return cupy


def summarize(results: dict) -> None:
    """The headline ratios of whatever sections finished."""
    base = {k: v["seconds_per_epoch"] for k, v in results["cases"].get("baseline", {}).items()}
    ceiling = results.get("cublas_fp32_8192_tflops")
    if ceiling:
        print(f"\ncuBLAS fp32 8192^3: {ceiling:.1f} TFLOP/s")
    if "PyTorch CUDA graph" in base and "netlab graph" in base:
        print(
            f"baseline: netlab graph is {base['PyTorch CUDA graph'] / base['netlab graph']:.2f}x "
            f"PyTorch's CUDA graph speed and {base['PyTorch eager'] / base['netlab graph']:.1f}x "
            "PyTorch eager's"
        )
    if ceiling and "netlab eager" in results["cases"].get("large", {}):
        large = results["cases"]["large"]["netlab eager"]["tflops"]
        print(f"large: netlab at {100 * large / ceiling:.0f}% of the cuBLAS fp32 ceiling")
    for name, row in results.get("variants", {}).items():
        if "netlab graph" in base:
            speed = base["netlab graph"] / row["seconds_per_epoch"]
            print(f"variant {name}: {speed:.2f}x the default's speed; self-check: "
                  f"{row['self_check']}")  # fmt: skip
    if results.get("fastest_variant"):
        print(f"fastest variant that matches eager: {results['fastest_variant']}")
    if results.get("baseline_100_epochs"):
        acc = results["baseline_100_epochs"]
        print(
            f"baseline, 100 epochs ({acc['mode']}): test accuracy {100 * acc['test_accuracy']:.2f}%"
        )
    for name, text in results.get("errors", {}).items():
        print(f"section {name} failed: {text}")


if __name__ == "__main__":
    main()
