"""The study's gradient check (its Figure 3): seven fixed parameter entries, analytic vs numeric at
eps 1e-2, on one training image per class (the examples every `netlab gradcheck` uses)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import GradcheckError
from ..nn.arrays import Array
from ..nn.layers import MLP
from .finite_differences import analytic_gradients, central_difference, check_settings

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
    resolution: float = 0.0  # rounding resolution of `numeric` (finite_differences.ROUNDING_ULPS)


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
    check_settings(model, eps, l2=l2)
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
        n, resolution = central_difference(model, name, index, x, labels, eps, loss_norm, l2)
        out.append(EntryCheck(name, index, a, n, n - a, layer, entry, study, resolution))
    return out


def to_resolution(value: float, resolution: float) -> str:
    """`value` with only the significant digits that stand above `resolution` (at most 3), so the
    text is the same on every CPU: -3.39e-11 at resolution 1.4e-12 reads '-3e-11'; a value
    below 10x the resolution reads '< 2e-11' (the bound rounded up)."""
    if not resolution > 0:
        return f"{value:.2e}"
    digits = min(3, math.floor(math.log10(abs(value) / resolution))) if value else 0
    if digits >= 1:
        return f"{value:.{digits - 1}e}"
    exponent = math.floor(math.log10(10 * resolution))
    mantissa = math.ceil(10 * resolution / 10**exponent - 1e-9)
    return f"< {mantissa}e{exponent:+03d}" if mantissa < 10 else f"< 1e{exponent + 1:+03d}"


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
