"""Gradient check: backprop against central differences (f(w+e) - f(w-e)) / 2e, in float64.

Per tensor the error is a robust relative error,
    err = max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, FLOOR),
normwise over the checked entries, so a near-zero gradient entry cannot blow it up (and a tensor
whose whole gradient is ~0 is judged by its absolute error, via FLOOR).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import GradcheckError
from ..nn.arrays import Array
from ..nn.layers import MLP
from .finite_differences import (
    analytic_gradients,
    check_settings,
    numeric_derivative,
    objective,  # noqa: F401  (re-exported)
)
from .gradcheck_paper import (
    PAPER_ENTRIES,  # noqa: F401  (re-exported)
    EntryCheck,
    one_per_class,
    paper_entries,
)

FLOOR = 1e-7
TOLERANCE = 1e-6


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
    check_settings(model, eps, max_entries, l2)
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
    model = _float64_model(sizes, activation, leaky_slope, init, seed, device)
    backend = model.backend
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


def _float64_model(
    sizes: list[int], activation: str, leaky_slope: float, init: str, seed: int, device: str
) -> MLP:
    """The model to check: float64 on `device`, its weights drawn from `seed`."""
    from ..nn.backend import get_backend

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GradcheckError(f"seed must be an integer >= 0; got {seed!r}")
    backend = get_backend(device, "float64")
    return MLP(
        sizes,
        activation,
        leaky_slope=leaky_slope,
        init=init,
        rng=np.random.default_rng(seed),
        backend=backend,
    )
