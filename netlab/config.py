"""Run configuration: frozen dataclasses, TOML loading, field-by-field validation and overrides.

A config file has three tables, [model], [training] and [data]; every key is optional and falls
back to the defaults below (the study's baseline with Xavier init).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .activations import NAMES as ACTIVATIONS
from .backend import DTYPES
from .data import NORMALIZATIONS, SOURCES
from .errors import ConfigError
from .layers import INITS, MAX_WIDTH
from .losses import LOSS_NORMS
from .optim import SCHEDULES

MONITORS = ("val_loss", "val_accuracy")


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = (50, 50)
    activation: str = "tanh"
    leaky_slope: float = 0.01
    init: str = "xavier"


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 100
    batch_size: int = 128
    lr: float = 0.012
    schedule: str = "constant"
    momentum: float = 0.9
    nesterov: bool = False
    l2: float = 0.0
    dropout: float = 0.0
    loss_norm: str = "batch"
    patience: int = 0
    monitor: str = "val_accuracy"
    seed: int = 0
    dtype: str = "float32"


@dataclass(frozen=True)
class DataConfig:
    source: str = "fashion-mnist"
    dir: str = ""
    val_fraction: float = 0.2
    normalization: str = "standardize"


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    name: str = "baseline"

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for section in SECTIONS:
            values = dataclasses.asdict(getattr(self, section))
            out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        return out

    def to_toml(self) -> str:
        lines = [
            "# netlab config (resolved: every field, overrides applied)",
            f"name = {_toml_value(self.name)}",
        ]
        for section, values in self.to_dict().items():
            lines.append(f"\n[{section}]")
            for key, value in values.items():
                lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


SECTIONS = {"model": ModelConfig, "training": TrainingConfig, "data": DataConfig}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


# (expected description, check) per key; check returns the normalized value or None if invalid.
def _int(lo: int, hi: float = math.inf):
    def check(v: Any) -> int | None:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            return None
        return v

    return check


def _float(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
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


def _choice(options: tuple[str, ...]):
    def check(v: Any) -> str | None:
        return v if isinstance(v, str) and v in options else None

    return check


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _hidden(v: Any) -> tuple[int, ...] | None:
    if not isinstance(v, (list, tuple)) or not v or len(v) > 100:
        return None
    if any(isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= MAX_WIDTH for x in v):
        return None
    return tuple(v)


def _fmt(options: tuple[str, ...]) -> str:
    return "one of " + ", ".join(repr(o) for o in options)


RULES: dict[str, dict[str, tuple[str, Any]]] = {
    "model": {
        "hidden": (
            f"a non-empty list of at most 100 integers in [1, {MAX_WIDTH}] (hidden layer widths)",
            _hidden,
        ),
        "activation": (_fmt(ACTIVATIONS), _choice(ACTIVATIONS)),
        "leaky_slope": ("a float in [0, 1)", _float(0.0, 1.0, hi_open=True)),
        "init": (_fmt(INITS), _choice(INITS)),
    },
    "training": {
        "epochs": ("an integer in [1, 1000000]", _int(1, 1_000_000)),
        "batch_size": ("an integer in [1, 10000000]", _int(1, 10_000_000)),
        "lr": ("a float > 0", _float(0.0, math.inf, lo_open=True)),
        "schedule": (_fmt(SCHEDULES), _choice(SCHEDULES)),
        "momentum": ("a float in [0, 1)", _float(0.0, 1.0, hi_open=True)),
        "nesterov": ("true or false", _bool),
        "l2": ("a float >= 0", _float(0.0, math.inf)),
        "dropout": (
            "a float in [0, 1) (share of hidden units dropped per training step)",
            _float(0.0, 1.0, hi_open=True),
        ),
        "loss_norm": (_fmt(LOSS_NORMS), _choice(LOSS_NORMS)),
        "patience": ("an integer >= 0 (0: never stop early)", _int(0)),
        "monitor": (_fmt(MONITORS), _choice(MONITORS)),
        "seed": ("an integer in [0, 2**63)", _int(0, 2**63 - 1)),
        "dtype": (_fmt(tuple(DTYPES)), _choice(tuple(DTYPES))),
    },
    "data": {
        "source": (_fmt(SOURCES), _choice(SOURCES)),
        "dir": ("a path string ('' to search the default places)", _str),
        "val_fraction": ("a float in (0, 1)", _float(0.0, 1.0, lo_open=True, hi_open=True)),
        "normalization": (_fmt(NORMALIZATIONS), _choice(NORMALIZATIONS)),
    },
}


def config_from_dict(raw: dict[str, Any], origin: str = "config", name: str = "config") -> Config:
    """Validate a {section: {key: value}} mapping; ConfigError names the first bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected tables [model], [training], [data]")
    raw = dict(raw)
    if "name" in raw:
        name = raw.pop("name")
        if (
            not isinstance(name, str)
            or not name
            or not all(c.isalnum() or c in "-_." for c in name)
        ):
            raise ConfigError(
                f"{origin}: name must be a non-empty string of letters, digits, - _ .; got {name!r}"
            )
    sections: dict[str, dict[str, Any]] = {}
    for section, values in raw.items():
        if section not in RULES:
            raise ConfigError(
                f"{origin}: unknown section [{section}]; expected one of "
                f"{', '.join('[' + s + ']' for s in RULES)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: {section} must be a table ([{section}]), got {values!r}")
        checked = {}
        for key, value in values.items():
            if key not in RULES[section]:
                raise ConfigError(
                    f"{origin}: unknown key {section}.{key}; expected one of "
                    f"{', '.join(RULES[section])}"
                )
            expected, check = RULES[section][key]
            normalized = check(value)
            if normalized is None:
                raise ConfigError(f"{origin}: {section}.{key} must be {expected}; got {value!r}")
            checked[key] = normalized
        sections[section] = checked
    config = Config(
        model=ModelConfig(**sections.get("model", {})),
        training=TrainingConfig(**sections.get("training", {})),
        data=DataConfig(**sections.get("data", {})),
        name=name,
    )
    return config


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; pass an existing --config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path} ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.stem) or "config"
    return config_from_dict(raw, origin=str(path), name=stem)


def with_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """A new Config with "section.key" -> value overrides applied (None values are ignored)."""
    raw: dict[str, Any] = config.to_dict()
    raw["name"] = config.name
    for dotted, value in overrides.items():
        if value is None:
            continue
        if dotted == "name":
            raw["name"] = value
            continue
        section, _, key = dotted.partition(".")
        if section not in raw or key not in raw[section]:
            raise ConfigError(f"unknown config key {dotted}")
        raw[section][key] = list(value) if isinstance(value, tuple) else value
    return config_from_dict(raw, origin="command line")
