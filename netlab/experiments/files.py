"""Experiment files: a base config, variants (a list and/or a grid) and seeds, each run a training.

An experiment file (TOML):

    name = "regularization"
    base = "../paper/baseline.toml"   # relative to this file, or a preset name ("paper");
                                      # omitted: the built-in defaults
    seeds = [0, 1, 2]                 # or a count: seeds = 3 -> [0, 1, 2]

    [overrides]                       # applied to every variant
    training = { epochs = 100 }

    [[variants]]                      # an explicit list...
    name = "relu, lr 1.2e-4, batch 1"
    model = { activation = "relu" }
    training = { lr = 1.2e-4, batch_size = 1 }

    [grid]                            # ...and/or the product of value lists
    training = { l2 = [0.0, 1e-4, 1e-3, 1e-2] }

Each (variant, seed) is one run with its own directory OUT/<variant>/seed<N>/ holding the four files
of a training run (runs.py). A run counts as finished when its metrics.json exists (written last)
and its config.toml is the resolved config of the plan, so an interrupted sweep resumes where it
stopped; a directory holding a different config is an error, never silently reused.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, config_from_dict, load_config
from ..errors import ConfigError
from ..presets import config_path
from ..schema import FIELDS as SECTIONS

TOP_KEYS = ("name", "base", "seeds", "overrides", "variants", "grid")


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict[str, Any]  # "section.key" -> value


@dataclass(frozen=True)
class Experiment:
    name: str
    path: Path
    base: Config
    overrides: dict[str, Any]
    variants: tuple[Variant, ...]
    seeds: tuple[int, ...]


def _flatten(origin: str, where: str, table: Any) -> dict[str, Any]:
    """{section: {key: value}} -> {"section.key": value}, rejecting unknown sections."""
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: {where} must be a table of [model], [training], [data]")
    flat = {}
    for section, values in table.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"{origin}: {where}: unknown section {section!r}; expected model, training or data"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: {where}.{section} must be a table, got {values!r}")
        for key, value in values.items():
            flat[f"{section}.{key}"] = value
    return flat


def _label(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "x".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def slug(name: str) -> str:
    """A directory name for a variant: letters, digits and _ . + kept, everything else '-'."""
    text = "".join(c if c.isalnum() or c in "_.+" else "-" for c in name)
    return "-".join(part for part in text.split("-") if part).strip(".") or "variant"


RESERVED = ("results.csv", "results.md", "curves.png")


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every variant's config is validated up front."""
    path = Path(path)
    origin = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"experiment file {path} not found; pass an existing file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment file {path} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    unknown = set(raw) - set(TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key {sorted(unknown)[0]!r}; expected one of {', '.join(TOP_KEYS)}"
        )
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{origin}: name must be a non-empty string; got {name!r}")
    if "base" in raw:
        if not isinstance(raw["base"], str):
            raise ConfigError(f"{origin}: base must be a path string; got {raw['base']!r}")
        base = load_config(config_path(raw["base"], base=path.parent))
    else:
        base = Config(name=slug(name))
    seeds = raw.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= 1000:
            raise ConfigError(
                f"{origin}: seeds must be a count in [1, 1000] or a list; got {seeds}"
            )
        seeds = list(range(seeds))
    if (
        not isinstance(seeds, list)
        or not seeds
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise ConfigError(
            f"{origin}: seeds must be a count or a list of distinct integers >= 0; got {seeds!r}"
        )
    overrides = _flatten(origin, "overrides", raw.get("overrides", {}))

    variants: list[Variant] = []
    listed = raw.get("variants", [])
    if not isinstance(listed, list):
        raise ConfigError(f"{origin}: variants must be an array of tables ([[variants]])")
    if "variants" in raw and not listed:
        raise ConfigError(
            f"{origin}: variants is empty; add [[variants]] tables, or drop the key to run the "
            "base config alone"
        )
    for i, item in enumerate(listed):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"{origin}: variants[{i}] needs a non-empty name")
        body = {k: v for k, v in item.items() if k != "name"}
        variants.append(Variant(item["name"], _flatten(origin, f"variants[{i}]", body)))
    if "grid" in raw:
        grid = _flatten(origin, "grid", raw["grid"])
        if not grid:
            raise ConfigError(f"{origin}: [grid] is empty; give it at least one key with a list")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{origin}: grid {key} must be a non-empty list; got {values!r}")
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            label = ", ".join(
                f"{k.split('.')[1]}={_label(v)}" for k, v in zip(keys, combo, strict=True)
            )
            variants.append(Variant(label, dict(zip(keys, combo, strict=True))))
    if not variants:
        variants.append(Variant("base", {}))
    names = [v.name for v in variants]
    slugs = [slug(n) for n in names]
    for n, s in zip(names, slugs, strict=True):
        if s in RESERVED:
            raise ConfigError(f"{origin}: variant name {n!r} is reserved for the sweep's own files")
    if len(set(slugs)) != len(slugs):
        dup = next(n for n, s in zip(names, slugs, strict=True) if slugs.count(s) > 1)
        raise ConfigError(f"{origin}: two variants share the name (or directory) of {dup!r}")
    experiment = Experiment(name, path, base, overrides, tuple(variants), tuple(seeds))
    for v in variants:  # validate every variant now, not hours into a sweep
        resolve(experiment, v, seeds[0])
    return experiment


def resolve(experiment: Experiment, variant: Variant, seed: int) -> Config:
    """The full config of one run: base, then overrides, then the variant, then the seed."""
    raw: dict[str, Any] = experiment.base.to_dict()
    raw["name"] = slug(variant.name).replace("+", "p")
    merged = {**experiment.overrides, **variant.overrides}
    new_optimizer = merged.get("training.optimizer", raw["training"]["optimizer"])
    if new_optimizer != raw["training"]["optimizer"] and "training.lr" not in merged:
        raw["training"]["lr"] = None  # another optimizer brings its own default rate
    for dotted, value in merged.items():
        section, _, key = dotted.partition(".")
        if key not in raw[section]:
            raise ConfigError(
                f"{experiment.path}: variant {variant.name!r}: unknown key {dotted}; expected one "
                f"of {', '.join(raw[section])}"
            )
        raw[section][key] = value
    raw["training"]["seed"] = seed
    return config_from_dict(raw, origin=f"{experiment.path}: variant {variant.name!r}")
