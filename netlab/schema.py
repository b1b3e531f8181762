"""The config schema: every field of every section with its default, check, range and meaning.

One table drives config validation, the config dataclasses (config.py), `netlab train`'s flags
and their help, and docs/config.md (generated from it by `make docs`; a test fails when they
drift). Choices that come from a registry (activations, optimizers, schedules, data sources) are
read from it when checked, so a new entry is accepted everywhere at once; the settings that
entries declare (registry.Setting: an optimizer's momentum, leaky_relu's slope) are fields of
their own, derived here from the declarations, as are the lists of entries in help texts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .data.sources import DATA_SOURCES
from .errors import ConfigError
from .nn.activations import ACTIVATIONS
from .nn.optimizers import OPTIMIZERS
from .registry import Registry, Setting

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


def declared_settings(registry: Registry) -> dict[str, list[tuple[str, Setting]]]:
    """Setting name -> [(entry, its declaration)] over the registry's entries, in order."""
    declared: dict[str, list[tuple[str, Setting]]] = {}
    for name, entry in registry.items():
        for setting in getattr(entry, "settings", ()):
            pairs = declared.setdefault(setting.name, [])
            first = pairs[0][1] if pairs else setting
            if replace(setting, default=first.default, help=first.help) != first:
                raise ValueError(
                    f"{registry.kind} {name!r} declares {setting.name} with another range than "
                    f"{pairs[0][0]!r}; a setting means one thing everywhere"
                )
            pairs.append((name, setting))
    return declared


def _setting_fields(registry: Registry) -> dict[str, Field]:
    """One field per declared setting: its help prefixed by the entries that read it; its
    default the declared one, or None (each entry's own) when their declarations differ."""
    out = {}
    for key, pairs in declared_settings(registry).items():
        first = pairs[0][1]
        names = ", ".join(n for n, _ in pairs)
        text = f"{names}: {first.help}"
        default: Any = first.default
        if len({repr(s.default) for _, s in pairs}) > 1:
            default = None
            own = ", ".join(f"{n} {_shown(s.default)}" for n, s in pairs)
            text += f" Default: the {registry.kind}'s own ({own})."
        out[key] = Field(default, first.check, first.expected, text)
    return out


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _shown(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else f"{value:g}"


def _default_rates() -> str:
    """'sgd 0.012, adam and adamw 0.001': the optimizers' default learning rates."""
    by_rate: dict[float, list[str]] = {}
    for name, entry in OPTIMIZERS.items():
        by_rate.setdefault(entry.default_lr, []).append(name)
    return ", ".join(f"{_and(names)} {rate:g}" for rate, names in by_rate.items())


def _sources(takes: str) -> str:
    """The data sources that read a `takes` location, with their file suffixes."""
    entries = [(n, e) for n, e in DATA_SOURCES.items() if e.takes == takes]
    return ", ".join(n + (f" {'/'.join(e.suffixes)}" if e.suffixes else "") for n, e in entries)


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
        **_setting_fields(ACTIVATIONS),
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
            f"Learning rate (default: the optimizer's own: {_default_rates()}).",
        ),
        "schedule": F(
            "constant", _choice(_SCH), _one_of(_SCH), "Learning-rate schedule over the epochs."
        ),
        **_setting_fields(OPTIMIZERS),
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
            f"Directory of a directory source ({_sources('dir')}).",
        ),
        "path": F("", _str, "a path string", f"File of a file source ({_sources('file')})."),
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
    t = config.training
    used = set(OPTIMIZERS.get(t.optimizer).hyper)
    declared = declared_settings(OPTIMIZERS)
    for name in sorted(set(declared) - used):
        value = getattr(t, name, None)
        # a declared default (as resolved configs write it) is no setting of the user's
        if value is not None and all(value != s.default for _, s in declared[name]):
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
