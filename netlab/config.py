"""Run configuration: frozen dataclasses, TOML loading, field-by-field validation and overrides.

A config file has a schema version and three tables, [model], [training] and [data]; every key is
optional and falls back to the defaults in schema.py (the study's baseline with Xavier init).
Two configs are the same run when their parsed, defaults-filled values are equal (`same_run`), so
a run written before a field existed resumes and is re-used after it is added.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .schema import FIELDS, SCHEMA_VERSION, check_value, cross_check, defaults

_M, _T, _D = (defaults(s) for s in ("model", "training", "data"))
# The top-level keys of an experiment file that a config never has (experiments/files.py TOP_KEYS
# without "name"; a test keeps them equal), so an experiment passed as a config is named as one.
EXPERIMENT_KEYS = ("base", "seeds", "overrides", "variants", "grid", "max_runs")


def _section(name: str, doc: str) -> type:
    """The frozen dataclass of one config section: one attribute per schema field (the settings
    that registry entries declare included), its default the schema's."""
    fields = [(key, Any, field(default=f.default)) for key, f in FIELDS[name.lower()].items()]
    cls = dataclasses.make_dataclass(f"{name}Config", fields, frozen=True)
    cls.__module__, cls.__doc__ = __name__, doc
    return cls


ModelConfig = _section("Model", "[model]: layer widths, activation and its settings, init.")
TrainingConfig = _section(
    "Training", "[training]: epochs, batches, optimizer and its settings (lr None: its own rate)."
)
DataConfig = _section("Data", "[data]: source, location, validation share, normalization.")


SECTIONS = {"model": ModelConfig, "training": TrainingConfig, "data": DataConfig}


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    name: str = "baseline"

    def resolved(self) -> Config:
        """Defaults that depend on other fields filled in: lr and any setting whose default is
        None ("the optimizer's own") from the optimizer's declarations."""
        from .nn.optimizers import OPTIMIZERS

        entry = OPTIMIZERS.get(self.training.optimizer)
        own = {"lr": entry.default_lr, **entry.hyper}
        missing = {k: v for k, v in own.items() if getattr(self.training, k, 0) is None}
        if not missing:
            return self
        training = dataclasses.replace(self.training, **missing)
        return dataclasses.replace(self, training=training)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """{section: {key: value}} as given (lr may be None: the optimizer's default)."""
        out = {}
        for section in SECTIONS:
            values = dataclasses.asdict(getattr(self, section))
            out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        return out

    def to_toml(self) -> str:
        """The resolved config as TOML: every field, defaults filled, the schema version."""
        lines = [
            "# netlab config (resolved: every field, overrides applied)",
            f"schema = {SCHEMA_VERSION}",
            f"name = {_toml_value(self.name)}",
        ]
        for section, values in self.resolved().to_dict().items():
            lines.append(f"\n[{section}]")
            for key, value in values.items():
                if value is not None:  # a setting the optimizer in use does not read
                    lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


def same_run(a: Config, b: Config, ignore: tuple[str, ...] = ()) -> bool:
    """Whether two configs describe the same training (resolved values equal; `ignore` lists
    "section.key" fields, or "name", to leave out)."""
    return not config_diff(a, b, ignore)


def config_diff(a: Config, b: Config, ignore: tuple[str, ...] = ()) -> list[str]:
    """The fields in which two configs differ after resolution: ["training.epochs: 3 -> 5", ...]."""
    ra, rb = a.resolved().to_dict(), b.resolved().to_dict()
    out = [f"name: {a.name!r} -> {b.name!r}"] if a.name != b.name and "name" not in ignore else []
    for section, values in ra.items():
        for key, value in values.items():
            dotted = f"{section}.{key}"
            if dotted not in ignore and rb[section][key] != value:
                out.append(f"{dotted}: {value!r} -> {rb[section][key]!r}")
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


MAX_NAME_BYTES = 100  # a run directory is named <name>-seed<N>-<time>: within 255 bytes


def _check_name(name: Any, origin: str) -> str:
    if (
        not isinstance(name, str)
        or not name
        or len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES
        or not all(c.isalnum() or c in "-_." for c in name)
    ):
        raise ConfigError(
            f"{origin}: name must be a non-empty string of letters, digits, - _ . of at most "
            f"{MAX_NAME_BYTES} bytes; got {name!r:.60}"
        )
    return name


def config_from_dict(raw: dict[str, Any], origin: str = "config", name: str = "config") -> Config:
    """Validate a {section: {key: value}} mapping; ConfigError names the first bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected tables [model], [training], [data]")
    raw = dict(raw)
    schema = raw.pop("schema", 1)
    if isinstance(schema, bool) or not isinstance(schema, int) or not 1 <= schema <= SCHEMA_VERSION:
        raise ConfigError(
            f"{origin}: schema must be an integer from 1 to {SCHEMA_VERSION} (this netlab's); "
            f"got {schema!r}; a newer netlab wrote this file"
        )
    if "name" in raw:
        name = _check_name(raw.pop("name"), origin)
    sections: dict[str, dict[str, Any]] = {}
    experiment = sorted(set(raw) & set(EXPERIMENT_KEYS))
    if experiment:
        raise ConfigError(
            f"{origin} is an experiment file (it has {', '.join(experiment)}), not a config; run "
            f"it with netlab experiment {origin}, or pass a config such as configs/baseline.toml"
        )
    for section, values in raw.items():
        if section not in FIELDS:
            raise ConfigError(
                f"{origin}: unknown section [{section}]; expected one of "
                f"{', '.join('[' + s + ']' for s in FIELDS)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: {section} must be a table ([{section}]), got {values!r}")
        sections[section] = {
            key: check_value(section, key, value, origin) for key, value in values.items()
        }
    config = Config(
        model=ModelConfig(**sections.get("model", {})),
        training=TrainingConfig(**sections.get("training", {})),
        data=DataConfig(**sections.get("data", {})),
        name=name,
    )
    cross_check(config, origin)
    return config


MAX_TOML_BYTES = 1 << 20  # configs and experiment files: a few KB in practice


def parse_toml(text: str, origin: str) -> dict[str, Any]:
    """A config or experiment file's TOML, within MAX_TOML_BYTES and fields.MAX_DEPTH levels."""
    from .files import fields

    try:
        return fields.parse_toml(text, MAX_TOML_BYTES)
    except fields.Invalid as exc:
        raise ConfigError(f"{origin}: {exc}; fix the file") from None


def config_from_toml(text: str, origin: str = "config", name: str = "config") -> Config:
    return config_from_dict(parse_toml(text, origin), origin=origin, name=name)


def read_toml_file(path: Path, what: str, hint: str) -> str:
    """The text of a TOML file (at most MAX_TOML_BYTES are read); ConfigError when it cannot be
    read: `what` names the file's role, `hint` says what to pass instead."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found; {hint}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path} ({exc})") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file."""
    path = Path(path)
    text = read_toml_file(path, "config file", "pass a config file (.toml) or a preset name")
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.stem) or "config"
    stem = stem.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    return config_from_toml(text, origin=str(path), name=stem)


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
        if dotted == "training.optimizer" and value != raw[section][key]:
            if overrides.get("training.lr") is None:
                raw["training"]["lr"] = None  # another optimizer brings its own default rate
        raw[section][key] = list(value) if isinstance(value, tuple) else value
    return config_from_dict(raw, origin="command line")
