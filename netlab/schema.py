"""The config schema: every field of every section with its default, check, range and meaning.

One table drives config validation, `netlab train`'s flags and their help, and docs/config.md
(generated from it; a test fails when they drift). Choices that come from a registry (activations,
optimizers, schedules, data sources) are read from it when checked, so a new entry is accepted
everywhere at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

SCHEMA_VERSION = 2  # 1: netlab <= 0.2; 2: optimizer settings, input dropout, augmentation, path
MAX_WIDTH = 1_000_000
AUGMENTATIONS = ("shift", "flip")


@dataclass(frozen=True)
class Field:
    default: Any
    check: Callable[[Any], Any]  # the normalized value, or None when invalid
    expected: Callable[[], str]  # what a valid value is, for errors and docs
    help: str


def _int(lo: int, hi: float = math.inf) -> Callable[[Any], int | None]:
    def check(v: Any) -> int | None:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            return None
        return v

    return check


def _float(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> Callable:
    def check(v: Any) -> float | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        v = float(v)
        if not math.isfinite(v):
            return None
        if v < lo or (lo_open and v == lo) or v > hi or (hi_open and v == hi):
            return None
        return v

    return check


def _optional(check: Callable) -> Callable:
    return lambda v: v if v is None else check(v)


def _choice(options: Callable[[], tuple[str, ...]]) -> Callable[[Any], str | None]:
    return lambda v: v if isinstance(v, str) and v in options() else None


def _one_of(options: Callable[[], tuple[str, ...]]) -> Callable[[], str]:
    return lambda: "one of " + ", ".join(repr(o) for o in options())


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and len(v) <= 4096 and "\x00" not in v else None


def _hidden(v: Any) -> tuple[int, ...] | None:
    if not isinstance(v, (list, tuple)) or not v or len(v) > 100:
        return None
    if any(isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= MAX_WIDTH for x in v):
        return None
    return tuple(v)


def _augment(v: Any) -> tuple[str, ...] | None:
    if not isinstance(v, (list, tuple)) or any(a not in AUGMENTATIONS for a in v):
        return None
    return tuple(dict.fromkeys(v))


def _names(registry: str) -> Callable[[], tuple[str, ...]]:
    def names() -> tuple[str, ...]:
        if registry == "activation":
            from .nn.activations import ACTIVATIONS as r
        elif registry == "optimizer":
            from .nn.optimizers import OPTIMIZERS as r
        elif registry == "schedule":
            from .nn.schedules import SCHEDULES as r
        else:
            from .data.sources import DATA_SOURCES as r
        return r.names()

    return names


def _const(*options: str) -> Callable[[], tuple[str, ...]]:
    return lambda: options


def _text(text: str) -> Callable[[], str]:
    return lambda: text


def F(default: Any, check: Callable, expected: Callable[[], str] | str, help: str) -> Field:
    return Field(default, check, expected if callable(expected) else _text(expected), help)


_ACT, _OPT, _SCH, _SRC = (_names(r) for r in ("activation", "optimizer", "schedule", "source"))
_INITS = _const("normal", "xavier", "he")
_UNIT = "a float in [0, 1)"

FIELDS: dict[str, dict[str, Field]] = {
    "model": {
        "hidden": F(
            (50, 50),
            _hidden,
            f"a non-empty list of at most 100 integers in [1, {MAX_WIDTH}]",
            "Hidden layer widths, input side first.",
        ),
        "activation": F("tanh", _choice(_ACT), _one_of(_ACT), "Hidden-layer activation."),
        "leaky_slope": F(
            0.01, _float(0.0, 1.0, hi_open=True), _UNIT, "Negative slope of leaky_relu."
        ),
        "init": F(
            "xavier",
            _choice(_INITS),
            _one_of(_INITS),
            "Weight init: normal (N(0,1) "
            "weights and biases, the study's), xavier (Glorot uniform) or he (He normal).",
        ),
    },
    "training": {
        "epochs": F(100, _int(1, 1_000_000), "an integer in [1, 1000000]", "Epochs to run."),
        "batch_size": F(
            128, _int(1, 10_000_000), "an integer in [1, 10000000]", "Mini-batch size."
        ),
        "optimizer": F("sgd", _choice(_OPT), _one_of(_OPT), "Optimizer."),
        "lr": F(
            None,
            _optional(_float(0.0, math.inf, lo_open=True)),
            "a float > 0",
            "Learning rate (default: the optimizer's own: sgd 0.012, adam and adamw 0.001).",
        ),
        "schedule": F(
            "constant", _choice(_SCH), _one_of(_SCH), "Learning-rate schedule over the epochs."
        ),
        "momentum": F(0.9, _float(0.0, 1.0, hi_open=True), _UNIT, "sgd: momentum (0 = none)."),
        "nesterov": F(False, _bool, "true or false", "sgd: Nesterov momentum."),
        "l2": F(
            0.0,
            _float(0.0, math.inf),
            "a float >= 0",
            "sgd, adam: L2 strength; the gradient gets + 2*l2*W (weights only).",
        ),
        "beta1": F(0.9, _float(0.0, 1.0, hi_open=True), _UNIT, "adam, adamw: beta1."),
        "beta2": F(0.999, _float(0.0, 1.0, hi_open=True), _UNIT, "adam, adamw: beta2."),
        "eps": F(1e-8, _float(0.0, 1.0, lo_open=True), "a float in (0, 1]", "adam, adamw: eps."),
        "weight_decay": F(
            0.01,
            _float(0.0, math.inf),
            "a float >= 0",
            "adamw: decoupled weight decay (weights only).",
        ),
        "dropout": F(
            0.0,
            _float(0.0, 1.0, hi_open=True),
            _UNIT,
            "Share of hidden units dropped per training step.",
        ),
        "input_dropout": F(
            0.0,
            _float(0.0, 1.0, hi_open=True),
            _UNIT,
            "Share of input features dropped per training step.",
        ),
        "label_smoothing": F(
            0.0,
            _float(0.0, 1.0, hi_open=True),
            _UNIT,
            "Label smoothing of the training loss's targets.",
        ),
        "augment": F(
            (),
            _augment,
            f"a list of {', '.join(repr(a) for a in AUGMENTATIONS)}",
            "Training-time augmentation of 28x28 images: shift (random shifts of up "
            "to 2 pixels), flip (random horizontal flips). Opt-in.",
        ),
        "loss_norm": F(
            "batch",
            _choice(_const("batch", "classes_batch")),
            "one of 'batch', 'classes_batch'",
            "batch (mean) or classes_batch (the study's ÷ classes × batch).",
        ),
        "patience": F(
            0,
            _int(0),
            "an integer >= 0 (0: never stop early)",
            "Early-stopping patience in epochs (0 = never stop).",
        ),
        "monitor": F(
            "val_accuracy",
            _choice(_const("val_loss", "val_accuracy")),
            "one of 'val_loss', 'val_accuracy'",
            "What picks the best epoch.",
        ),
        "seed": F(
            0,
            _int(0, 2**63 - 1),
            "an integer in [0, 2**63)",
            "Seed of the split, the init, the batch order and dropout.",
        ),
        "dtype": F(
            "float32",
            _choice(_const("float32", "float64")),
            "one of 'float32', 'float64'",
            "Float type of parameters and activations.",
        ),
    },
    "data": {
        "source": F("fashion-mnist", _choice(_SRC), _one_of(_SRC), "Data source."),
        "dir": F(
            "",
            _str,
            "a path string ('' to search the default places)",
            "Directory of an IDX source (fashion-mnist, mnist).",
        ),
        "path": F("", _str, "a path string", "File of a file source (npz, csv)."),
        "val_fraction": F(
            0.2,
            _float(0.0, 1.0, lo_open=True, hi_open=True),
            "a float in (0, 1)",
            "Validation share of the training data (stratified, from the seed).",
        ),
        "normalization": F(
            "standardize",
            _choice(_const("standardize", "per_pixel", "scale")),
            "one of 'standardize', 'per_pixel', 'scale'",
            "standardize (one mean/std), per_pixel, or scale (/255 only).",
        ),
    },
}


def defaults(section: str) -> dict[str, Any]:
    return {key: f.default for key, f in FIELDS[section].items()}


def check_value(section: str, key: str, value: Any, origin: str) -> Any:
    """The normalized value of section.key, or ConfigError naming the key and what it must be."""
    if key not in FIELDS[section]:
        raise ConfigError(
            f"{origin}: unknown key {section}.{key}; expected one of {', '.join(FIELDS[section])}"
        )
    f = FIELDS[section][key]
    normalized = f.check(value)
    if normalized is None and not (value is None and f.default is None):
        raise ConfigError(f"{origin}: {section}.{key} must be {f.expected()}; got {value!r}")
    return normalized


def cross_check(config: Any, origin: str) -> None:
    """Rules between fields: an optimizer's settings only where it reads them; file sources
    need data.path."""
    from .data.sources import DATA_SOURCES
    from .nn.optimizers import OPTIMIZERS

    t = config.training
    used = set(OPTIMIZERS.get(t.optimizer).hyper)
    for name in sorted({k for o in OPTIMIZERS for k in OPTIMIZERS.get(o).hyper} - used):
        if getattr(t, name) != FIELDS["training"][name].default:
            raise ConfigError(
                f"{origin}: training.{name} does not apply to optimizer {t.optimizer!r} (it reads "
                f"{', '.join(sorted(used)) or 'lr only'}); drop it or pick another optimizer"
            )
    source = DATA_SOURCES.get(config.data.source)
    if source.takes == "file" and not config.data.path:
        raise ConfigError(
            f"{origin}: data source {config.data.source!r} reads a file; set data.path "
            f"(--data path/to/file{source.suffixes[0] if source.suffixes else ''})"
        )
