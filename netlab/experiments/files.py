"""Experiment files: a base config, variants (a list and/or a grid) and seeds, each run a training.

An experiment file (TOML):

    name = "regularization"
    base = "../paper/baseline.toml"   # relative to this file, or a preset name ("paper");
                                      # omitted: the built-in defaults
    seeds = [0, 1, 2]                 # or a count: seeds = 3 -> [0, 1, 2]
    max_runs = 20000                  # optional: variants x seeds above 10,000 are refused

    [overrides]                       # applied to every variant
    training = { epochs = 100 }

    [[variants]]                      # an explicit list...
    name = "relu, lr 1.2e-4, batch 1"
    model = { activation = "relu" }
    training = { lr = 1.2e-4, batch_size = 1 }

    [grid]                            # ...and/or the product of value lists
    training = { l2 = [0.0, 1e-4, 1e-3, 1e-2] }

Each (variant, seed) is one run with its own directory OUT/<variant>/seed<N>/ holding the four files
of a training run (runs.py); a variant's directory name longer than 100 bytes ends in a hash of its
full name (slug). A run counts as finished when its metrics.json exists (written last)
and its config.toml is the resolved config of the plan, so an interrupted sweep resumes where it
stopped; a directory holding a different config is an error, never silently reused.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, config_from_dict, load_config, parse_toml, read_toml_file
from ..errors import ConfigError
from ..presets import config_path
from ..schema import FIELDS as SECTIONS

TOP_KEYS = ("name", "base", "seeds", "max_runs", "overrides", "variants", "grid")


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


MAX_SLUG = 100  # bytes of a run directory's name (file systems allow 255)


def slug(name: str) -> str:
    """A directory name for a variant: letters, digits and _ . + kept, everything else '-'.

    A name longer than MAX_SLUG bytes is cut and ends in '-' and 12 hex digits of the SHA-256 of
    the full name, so the directory stays the same from run to run and distinct names stay apart.
    """
    text = "".join(c if c.isalnum() or c in "_.+" else "-" for c in name)
    text = "-".join(part for part in text.split("-") if part).strip(".") or "variant"
    if len(text.encode("utf-8", "replace")) <= MAX_SLUG:
        return text
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    head = text.encode("utf-8", "replace")[: MAX_SLUG - 13].decode("utf-8", "ignore")
    return f"{head.rstrip('-.')}-{digest}"


RESERVED = ("results.csv", "results.md", "curves.png")
MAX_RUNS = 10_000  # variants x seeds; a file may raise it with max_runs, up to MAX_RUNS_CEILING
MAX_RUNS_CEILING = 1_000_000
MAX_NAME = 200  # characters of a listed variant's name (a grid's names are its values)


def _seeds(origin: str, seeds: Any) -> list[int]:
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
            f"{origin}: seeds must be a count or a list of distinct integers >= 0; "
            f"got {seeds!r:.80}"
        )
    return seeds


def _grid(origin: str, raw: dict[str, Any]) -> dict[str, list]:
    if "grid" not in raw:
        return {}
    grid = _flatten(origin, "grid", raw["grid"])
    if not grid:
        raise ConfigError(f"{origin}: [grid] is empty; give it at least one key with a list")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{origin}: grid {key} must be a non-empty list; got {values!r:.80}")
    return grid


def _check_size(origin: str, raw: dict[str, Any], n_variants: int, n_seeds: int) -> None:
    """Refuse a sweep of more than max_runs runs before a single variant is built."""
    limit = raw.get("max_runs", MAX_RUNS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RUNS_CEILING:
        raise ConfigError(
            f"{origin}: max_runs must be an integer in [1, {MAX_RUNS_CEILING}]; got {limit!r:.40}"
        )
    runs = n_variants * n_seeds
    if runs > limit:
        raise ConfigError(
            f"{origin}: {n_variants} variants x {n_seeds} seeds = {runs} runs, more than the limit "
            f"of {limit}; make the grid smaller or split the sweep, or raise the limit with "
            f"max_runs = {runs} in the file"
            + (f" (at most {MAX_RUNS_CEILING})" if runs > MAX_RUNS_CEILING else "")
        )


def _listed(origin: str, raw: dict[str, Any]) -> list[Variant]:
    listed = raw.get("variants", [])
    if not isinstance(listed, list):
        raise ConfigError(f"{origin}: variants must be an array of tables ([[variants]])")
    if "variants" in raw and not listed:
        raise ConfigError(
            f"{origin}: variants is empty; add [[variants]] tables, or drop the key to run the "
            "base config alone"
        )
    variants = []
    for i, item in enumerate(listed):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"{origin}: variants[{i}] needs a non-empty name")
        if len(item["name"]) > MAX_NAME:
            raise ConfigError(
                f"{origin}: variants[{i}].name has {len(item['name'])} characters; the limit is "
                f"{MAX_NAME}; give it a shorter name"
            )
        body = {k: v for k, v in item.items() if k != "name"}
        variants.append(Variant(item["name"], _flatten(origin, f"variants[{i}]", body)))
    return variants


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; its size is checked first (variants x seeds, at
    most max_runs), then every variant's config is validated up front."""
    path = Path(path)
    origin = str(path)
    text = read_toml_file(path, "experiment file", "pass an existing experiment file (.toml)")
    raw = parse_toml(text, origin)
    unknown = set(raw) - set(TOP_KEYS)
    if unknown:
        first = sorted(unknown)[0]
        raise ConfigError(
            f"{origin}: unknown key {first!r:.60}; expected one of {', '.join(TOP_KEYS)}"
        )
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{origin}: name must be a non-empty string; got {name!r:.60}")
    seeds = _seeds(origin, raw.get("seeds", [0]))
    grid = _grid(origin, raw)
    n_listed = len(raw["variants"]) if isinstance(raw.get("variants"), list) else 0
    n_grid = math.prod(len(v) for v in grid.values()) if grid else 0
    _check_size(origin, raw, max(n_listed + n_grid, 1), len(seeds))
    if "base" in raw:
        if not isinstance(raw["base"], str):
            raise ConfigError(f"{origin}: base must be a path string; got {raw['base']!r:.60}")
        base = load_config(config_path(raw["base"], base=path.parent))
    else:
        base = Config(name=slug(name))
    overrides = _flatten(origin, "overrides", raw.get("overrides", {}))
    variants = _listed(origin, raw)
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)) if grid else ():
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
        raise ConfigError(f"{origin}: two variants share the name (or directory) of {dup!r:.80}")
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
