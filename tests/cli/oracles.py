"""The schema's verdict on a hostile file, written from the documented rules (docs/reliability.md
"What a valid file is"), independently of netlab's readers: True when the file is valid.

Configs are judged by netlab's config schema (config_from_dict: the table docs/config.md is
generated from), the rest by the rules below.
"""

from __future__ import annotations

import math
from typing import Any

from hostile import ACTIVATIONS, MAX_DEPTH, SOURCES
from mutate import depth

from netlab.config import config_from_dict
from netlab.errors import ConfigError

COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")
RANGES = {"train_loss": (0, math.inf, False), "train_accuracy": (0, 1, False),
          "val_loss": (0, math.inf, True), "val_accuracy": (0, 1, True),
          "lr": (0, math.inf, False), "seconds": (0, math.inf, False)}  # fmt: skip


def num(v: Any, lo: float = -math.inf, hi: float = math.inf, nan: bool = False) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    if isinstance(v, int) and abs(v) > 10**308:
        return False
    v = float(v)
    return (nan and math.isnan(v)) or (math.isfinite(v) and lo <= v <= hi)


def whole(v: Any, lo: int, hi: int) -> bool:
    return type(v) is int and lo <= v <= hi


def short_text(v: Any, limit: int = 256) -> bool:
    return isinstance(v, str) and len(v) <= limit


def config_ok(raw: Any) -> Any:
    """The validated Config, or None."""
    if not isinstance(raw, dict):
        return None
    try:
        return config_from_dict(raw, origin="oracle")
    except (ConfigError, TypeError, ValueError, AttributeError):
        return None


def model_meta_ok(m: Any, seed: dict[str, Any]) -> bool:
    """A model file's metadata (its arrays are the seed's, so sizes, dtype and parameters are)."""
    if not isinstance(m, dict) or depth(m) > MAX_DEPTH:
        return False
    v = m.get("format_version")
    if m.get("format") != "netlab-mlp" or type(v) is not int or v not in (1, 2):
        return False
    if m.get("sizes") != seed["sizes"] or m.get("dtype") != seed["dtype"]:
        return False
    if "parameters" in m and m["parameters"] != seed["parameters"]:
        return False
    if m.get("activation") not in ACTIVATIONS or not num(m.get("leaky_slope"), 0, 1):
        return False
    if m.get("leaky_slope") == 1 or m.get("init") not in ("normal", "xavier", "he"):
        return False
    if any(k in m and not short_text(m[k]) for k in ("netlab_version", "config_name")):
        return False
    norm, n_in, n_out = m.get("normalization"), seed["sizes"][0], seed["sizes"][-1]
    if not isinstance(norm, dict) or ("pixels" in norm and not short_text(norm["pixels"])):
        return False
    for key, lo in (("mean", -1e30), ("std", 1e-30)):
        values = norm.get(key)
        if not isinstance(values, list) or len(values) != n_in:
            return False
        if not all(num(x, lo, 1e30) for x in values):
            return False
    if v == 2 and not {"input_scale", "class_names", "data_source"} <= set(m):
        return False
    if not num(m.get("input_scale", 255.0), 1e-30, 1e30):
        return False
    names = m.get("class_names")
    if names is not None and not (
        isinstance(names, list) and len(names) == n_out and all(short_text(x) for x in names)
    ):
        return False
    if m.get("data_source") is not None and m["data_source"] not in SOURCES:
        return False
    if m.get("seed") is not None and not whole(m["seed"], 0, 2**63 - 1):
        return False
    config = config_ok(m.get("config"))
    if config is None:
        return False
    if "best_epoch" in m and not whole(m["best_epoch"], 1, config.training.epochs):
        return False
    return all(num(m[k], 0, 1) for k in ("val_accuracy", "test_accuracy") if k in m)


def history_ok(rows: Any, lr_required: bool = True) -> bool:
    if not isinstance(rows, list):
        return False
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            return False
        keys = set(COLUMNS) if lr_required or "lr" in row else set(COLUMNS) - {"lr"}
        if set(row) != keys or type(row["epoch"]) is not int or row["epoch"] != i + 1:
            return False
        if not all(num(row[k], lo, hi, nan) for k, (lo, hi, nan) in RANGES.items() if k in row):
            return False
    return True


def pcg64_ok(s: Any) -> bool:
    if not isinstance(s, dict) or set(s) != {"bit_generator", "state", "has_uint32", "uinteger"}:
        return False
    inner = s["state"]
    return (
        s["bit_generator"] == "PCG64"
        and isinstance(inner, dict)
        and set(inner) == {"state", "inc"}
        and whole(inner["state"], 0, 2**128 - 1)
        and whole(inner["inc"], 0, 2**128 - 1)
        and inner["inc"] % 2 == 1
        and whole(s["has_uint32"], 0, 1)
        and whole(s["uinteger"], 0, 2**32 - 1)
    )


def best_ok(m: dict[str, Any], monitor: str, patience: int, epochs: int) -> bool:
    """best_epoch, best_value and stopped as the history implies them (docs: Trainer.track_best)."""
    values = []
    for r in m["history"]:
        if math.isnan(r["val_loss"]) or math.isnan(r["val_accuracy"]):
            return False  # the seed run has a validation split
        values.append(r["val_loss"] if monitor == "val_loss" else -r["val_accuracy"])
    best = values.index(min(values)) + 1
    stop = patience > 0 and m["epoch"] - best >= patience and m["epoch"] < epochs
    return (
        type(m["best_epoch"]) is int
        and m["best_epoch"] == best
        and num(m["best_value"])
        and m["best_value"] == values[best - 1]
        and m["stopped"] is stop
    )


def checkpoint_meta_ok(m: Any, seed: dict[str, Any], config_text: str) -> bool:
    """A checkpoint's metadata (its arrays and config are the seed run's)."""
    if not isinstance(m, dict) or depth(m) > MAX_DEPTH:
        return False
    if m.get("format") != "netlab-checkpoint" or type(m.get("format_version")) is not int:
        return False
    if m["format_version"] != 2 or m.get("config_toml") != config_text:
        return False
    if "netlab_version" in m and not short_text(m["netlab_version"]):
        return False
    if any(m.get(k) != seed[k] or type(m.get(k)) is not type(seed[k])
           for k in ("dtype", "n_params", "optimizer")):  # fmt: skip
        return False
    if not whole(m.get("optimizer_steps"), 0, 2**62):
        return False
    config = config_ok(__import__("tomllib").loads(config_text))
    t = config.training
    if not whole(m.get("epoch"), 1, t.epochs) or not history_ok(m.get("history")):
        return False
    if len(m["history"]) != m["epoch"] or not {"best_epoch", "best_value", "stopped"} <= set(m):
        return False
    if not best_ok(m, t.monitor, t.patience, t.epochs):
        return False
    states = m.get("rng_states")
    if not isinstance(states, dict) or not {"shuffle", "dropout"} <= set(states):
        return False
    return set(states) <= {"shuffle", "dropout", "augment"} and all(
        pcg64_ok(s) for s in states.values()
    )


def csv_ok(header: list[str], rows: list[list[str]]) -> bool:
    """A history.csv: the documented columns once each (lr optional), every row complete, each
    field a number Python's int()/float() reads, in its column's range."""
    if len(set(header)) != len(header) or set(header) not in (set(COLUMNS), set(COLUMNS) - {"lr"}):
        return False
    if any(len(field) > 131072 for row in rows for field in row):  # the csv module's limit
        return False
    records = []
    for row in rows:
        if len(row) != len(header):
            return False
        record = {}
        for key, text in zip(header, row, strict=True):
            try:
                record[key] = int(text) if key == "epoch" else float(text)
            except ValueError:
                return False
        records.append(record)
    return history_ok(records, lr_required="lr" in header)


def experiment_ok(raw: Any) -> tuple[bool, int]:
    """(valid, number of runs) of an experiment file (docs/experiments.md): no base file here."""
    from netlab.experiments.files import slug  # only for directory names (hash of long ones)

    top = ("name", "base", "seeds", "max_runs", "overrides", "variants", "grid")
    if not isinstance(raw, dict) or depth(raw) > MAX_DEPTH or not set(raw) <= set(top):
        return False, 0
    name = raw.get("name", "exp")
    seeds = raw.get("seeds", [0])
    if type(seeds) is int:
        if not 1 <= seeds <= 1000:
            return False, 0
        seeds = list(range(seeds))
    if not isinstance(name, str) or not name or "base" in raw or not _seeds_ok(seeds):
        return False, 0
    limit = raw.get("max_runs", 10_000)
    grid, listed = raw.get("grid"), raw.get("variants", [])
    if not whole(limit, 1, 1_000_000) or not isinstance(listed, list):
        return False, 0
    if "variants" in raw and not listed:
        return False, 0
    if "grid" in raw and not (isinstance(grid, dict) and grid):
        return False, 0
    grid_lists = _flat(grid) if "grid" in raw else {}
    if grid_lists is None or any(not isinstance(v, list) or not v for v in grid_lists.values()):
        return False, 0
    if "grid" in raw and not grid_lists:  # e.g. grid = {model = {}}: tables but no list
        return False, 0
    size = math.prod(len(v) for v in grid_lists.values()) if grid_lists else 0
    runs = max(len(listed) + size, 1) * len(seeds)
    if runs > limit:
        return False, runs
    overrides = _flat(raw.get("overrides", {}))
    variants = []
    for item in listed:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return False, runs
        body = _flat({k: v for k, v in item.items() if k != "name"})
        if not item["name"] or len(item["name"]) > 200 or body is None:
            return False, runs
        variants.append((item["name"], body))
    if overrides is None or runs > 64:  # the rest is checked only for sweeps small to build
        return overrides is not None, runs
    import itertools

    keys = list(grid_lists)
    for combo in itertools.product(*(grid_lists[k] for k in keys)) if keys else ():
        variants.append((str(combo), dict(zip(keys, combo, strict=True))))
    slugs = [slug(n) for n, _ in variants] or ["base"]
    if len(set(slugs)) != len(slugs) or set(slugs) & {"results.csv", "results.md", "curves.png"}:
        return False, runs
    for _, body in variants or [("base", {})]:
        raw_config: dict[str, Any] = {}
        for dotted, value in {**overrides, **body}.items():
            section, _, key = dotted.partition(".")
            raw_config.setdefault(section, {})[key] = value
        raw_config.setdefault("training", {})["seed"] = seeds[0]
        if config_ok(raw_config) is None:
            return False, runs
    return True, runs


def _seeds_ok(seeds: Any) -> bool:
    return (
        isinstance(seeds, list)
        and bool(seeds)
        and all(type(s) is int and s >= 0 for s in seeds)
        and len(set(seeds)) == len(seeds)
    )


def _flat(table: Any) -> dict[str, Any] | None:
    if not isinstance(table, dict):
        return None
    out = {}
    for section, values in table.items():
        if section not in ("model", "training", "data") or not isinstance(values, dict):
            return None
        out.update({f"{section}.{k}": v for k, v in values.items()})
    return out
