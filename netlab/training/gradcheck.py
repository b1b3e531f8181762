"""Gradient check: backprop against central differences (f(w+e) - f(w-e)) / 2e, in float64.

Per tensor the error is a robust relative error,
    err = max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, FLOOR),
normwise over the checked entries, so a near-zero gradient entry cannot blow it up (and a tensor
whose whole gradient is ~0 is judged by its absolute error, via FLOOR).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import GradcheckError
from ..nn.arrays import Array
from ..nn.layers import MLP
from ..nn.losses import objective_scale, softmax_cross_entropy

FLOOR = 1e-7
TOLERANCE = 1e-6

# The study's Figure 3: (layer, entry, netlab parameter, index, the study's difference).
PAPER_ENTRIES = (
    ("Output", "Bias(5)", "b3", (5,), 4.49e-4),
    ("Hidden", "Bias(2)", "b1", (2,), 3.17e-4),
    ("Hidden", "Bias(9)", "b2", (9,), -1.44e-4),
    ("Hidden to output", "Weight(6, 9)", "W3", (6, 9), -4.18e-4),
    ("Hidden to output", "Weight(31, 2)", "W3", (31, 2), -4.25e-4),
    ("Input to hidden", "Weight(21, 9)", "W1", (21, 9), 1.24e-4),
    ("Input to hidden", "Weight(13, 1)", "W1", (13, 1), -5.81e-5),
)


@dataclass
class EntryCheck:
    parameter: str
    index: tuple[int, ...]
    analytic: float
    numeric: float
    difference: float  # numeric - analytic, the study's sign convention
    layer: str = ""
    entry: str = ""
    study_difference: float | None = None


@dataclass
class TensorCheck:
    parameter: str
    shape: tuple[int, ...]
    checked: int
    analytic_max: float
    numeric_max: float
    abs_diff: float
    rel_error: float
    passed: bool


@dataclass
class GradcheckReport:
    epsilon: float
    tolerance: float
    tensors: list[TensorCheck] = field(default_factory=list)
    entries: list[EntryCheck] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every tensor within tolerance and, for --paper entries, every |difference| <= eps**2."""
        entries_ok = all(abs(e.difference) <= self.tolerance for e in self.entries)
        return (
            all(t.passed for t in self.tensors)
            and entries_ok
            and bool(self.tensors or self.entries)
        )

    @property
    def max_rel_error(self) -> float:
        return max((t.rel_error for t in self.tensors), default=float("nan"))

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "max_rel_error": self.max_rel_error,
            "epsilon": self.epsilon,
            "tolerance": self.tolerance,
            "settings": self.settings,
            "tensors": [asdict(t) for t in self.tensors],
            "entries": [asdict(e) for e in self.entries],
        }


def objective(
    model: MLP, x: Array, labels: Array, loss_norm: str = "batch", l2: float = 0.0
) -> float:
    """The training objective: scaled mean cross-entropy + l2 * sum of squared weights."""
    loss, _ = softmax_cross_entropy(model.logits(x), labels, loss_norm)
    value = model.backend.to_float(loss) * objective_scale(loss_norm, model.sizes[-1])
    if l2:
        w = model.flat[: model.n_weights]
        value += l2 * model.backend.to_float((w * w).sum())
    return value


def analytic_gradients(
    model: MLP, x: Array, labels: Array, loss_norm: str = "batch", l2: float = 0.0
) -> dict[str, np.ndarray]:
    """Backprop gradients of `objective`, including the L2 term 2*l2*W on weights, on the host."""
    logits, backward = model.forward(x)
    _, dlogits = softmax_cross_entropy(logits, labels, loss_norm)
    backward(dlogits)
    grads = {}
    for name, g in model.grads.items():
        g = model.backend.to_numpy(g).copy()
        if l2 and name.startswith("W"):
            g += 2.0 * l2 * model.backend.to_numpy(model.params[name])
        grads[name] = g
    return grads


def numeric_derivative(
    model: MLP,
    name: str,
    index: tuple[int, ...],
    x: Array,
    labels: Array,
    eps: float,
    loss_norm: str,
    l2: float,
) -> float:
    """Central difference of the objective with respect to one parameter entry (restored after)."""
    p = model.params[name]
    original = p[index].copy()
    try:
        p[index] = original + eps
        f_plus = objective(model, x, labels, loss_norm, l2)
        p[index] = original - eps
        f_minus = objective(model, x, labels, loss_norm, l2)
    finally:
        p[index] = original
    return (f_plus - f_minus) / (2.0 * eps)


def _check_settings(model: MLP, eps: float, max_entries: int = 0, l2: float = 0.0) -> None:
    if not (eps > 0 and math.isfinite(eps)):
        raise GradcheckError(f"epsilon must be a finite number > 0; got {eps!r}")
    if not (l2 >= 0 and math.isfinite(l2)):
        raise GradcheckError(f"l2 must be a finite number >= 0; got {l2!r}")
    if max_entries < 0:
        raise GradcheckError(f"max_entries must be >= 0 (0 checks all); got {max_entries!r}")
    _require_float64(model)


def _require_float64(model: MLP) -> None:
    if model.backend.dtype != np.float64:
        raise GradcheckError(
            f"gradient checks need float64, the model is {model.backend.dtype}; "
            'use get_backend(device, dtype="float64") (the CLI always does)'
        )


def gradcheck(
    model: MLP,
    x: Array,
    labels: Array,
    *,
    eps: float = 1e-6,
    loss_norm: str = "batch",
    l2: float = 0.0,
    max_entries: int = 0,
    tolerance: float = TOLERANCE,
    rng: np.random.Generator | None = None,
) -> GradcheckReport:
    """Check every parameter tensor: all entries, or `max_entries` sampled ones when it is larger.

    Args:
        model: a float64 MLP.
        x: (batch, n_in) inputs; labels: (batch,) int64.
        eps: the central-difference step.
        max_entries: entries checked per tensor (0: all).
        rng: picks the sampled entries (default: seed 0).
    """
    _check_settings(model, eps, max_entries, l2)
    rng = rng if rng is not None else np.random.default_rng(0)
    grads = analytic_gradients(model, x, labels, loss_norm, l2)
    report = GradcheckReport(epsilon=eps, tolerance=tolerance)
    for name, g in grads.items():
        size = g.size
        if max_entries and size > max_entries:
            flat_idx = np.sort(rng.choice(size, max_entries, replace=False))
        else:
            flat_idx = np.arange(size)
        a = np.empty(len(flat_idx))
        n = np.empty(len(flat_idx))
        for k, fi in enumerate(flat_idx):
            index = np.unravel_index(fi, g.shape)
            a[k] = g[index]
            n[k] = numeric_derivative(model, name, index, x, labels, eps, loss_norm, l2)
        diff = float(np.max(np.abs(a - n)))
        scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(n))), FLOOR)
        rel = diff / scale
        report.tensors.append(
            TensorCheck(
                name,
                tuple(g.shape),
                len(flat_idx),
                float(np.max(np.abs(a))),
                float(np.max(np.abs(n))),
                diff,
                rel,
                bool(rel < tolerance),
            )
        )
    return report


def paper_entries(
    model: MLP,
    x: Array,
    labels: Array,
    *,
    eps: float = 1e-2,
    loss_norm: str = "batch",
    l2: float = 0.0,
) -> list[EntryCheck]:
    """The study's Figure 3: the same seven entries, analytic vs numeric, at its epsilon."""
    _check_settings(model, eps, l2=l2)
    sizes = model.sizes
    if len(sizes) != 4 or sizes[0] < 22 or sizes[1] < 10 or sizes[2] < 32 or sizes[3] < 10:
        raise GradcheckError(
            "--paper checks the entries of the study's 784-50-50-10 network and needs 2 hidden "
            f"layers with at least 784-10-32-10 units; got {'-'.join(map(str, sizes))}"
        )
    grads = analytic_gradients(model, x, labels, loss_norm, l2)
    out = []
    for layer, entry, name, index, study in PAPER_ENTRIES:
        a = float(grads[name][index])
        n = numeric_derivative(model, name, index, x, labels, eps, loss_norm, l2)
        out.append(EntryCheck(name, index, a, n, n - a, layer, entry, study))
    return out


def one_per_class(
    n_in: int, n_classes: int, backend, source: str = "sample", data_dir: str | None = None
) -> tuple[Array, Array]:
    """The first training example of each class, standardized with training-split statistics.

    Real images when the input size is 784 (the shipped sample by default, so no download is
    needed); otherwise Gaussian inputs from seed 0 with labels 0..n_classes-1.
    """
    from ..data.prepare import prepare
    from ..data.sources import load_data

    labels = np.arange(n_classes, dtype=np.int64)
    if n_in != 784 or n_classes > 10:
        x = np.random.default_rng(0).standard_normal((n_classes, n_in))
        return backend.asarray(x, dtype=backend.dtype), backend.asarray(labels)
    raw = load_data(source, data_dir)
    data = prepare(
        raw, backend, val_fraction=0.2, normalization="standardize", rng=np.random.default_rng(0)
    )
    y = data.y_host[data.train_idx]
    rows = [int(data.train_idx[np.flatnonzero(y == c)[0]]) for c in range(n_classes)]
    idx = backend.asarray(np.array(rows))
    return data.X[idx], backend.asarray(labels)


def check_model(
    sizes: list[int],
    activation: str = "tanh",
    *,
    leaky_slope: float = 0.01,
    init: str = "xavier",
    l2: float = 0.0,
    eps: float = 1e-6,
    loss_norm: str = "batch",
    max_entries: int = 0,
    seed: int = 0,
    device: str = "cpu",
    source: str = "sample",
    data_dir: str | None = None,
    paper: bool = False,
) -> GradcheckReport:
    """Build a float64 model and check every tensor (with paper=True: the Figure 3 entries)."""
    from ..nn.backend import get_backend

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GradcheckError(f"seed must be an integer >= 0; got {seed!r}")
    backend = get_backend(device, "float64")
    model = MLP(
        sizes,
        activation,
        leaky_slope=leaky_slope,
        init=init,
        rng=np.random.default_rng(seed),
        backend=backend,
    )
    x, labels = one_per_class(sizes[0], sizes[-1], backend, source, data_dir)
    settings = {
        "sizes": list(sizes),
        "activation": activation,
        "leaky_slope": leaky_slope,
        "init": init,
        "l2": l2,
        "loss_norm": loss_norm,
        "examples": int(len(labels)),
        "seed": seed,
        "device": backend.device,
        "dtype": "float64",
        "max_entries": max_entries,
        "paper": paper,
    }
    with np.errstate(over="ignore", invalid="ignore"):
        if paper:
            report = GradcheckReport(epsilon=eps, tolerance=eps * eps, settings=settings)
            report.entries = paper_entries(model, x, labels, eps=eps, loss_norm=loss_norm, l2=l2)
            return report
        report = gradcheck(
            model,
            x,
            labels,
            eps=eps,
            loss_norm=loss_norm,
            l2=l2,
            max_entries=max_entries,
            rng=np.random.default_rng(seed),
        )
    report.settings = settings
    return report
