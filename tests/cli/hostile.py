"""Hostile files: structure-aware mutants of real netlab files, each with the schema's verdict.

A Case is the files to write into an empty directory, the netlab command that reads them, and
whether the documented schema (docs/reliability.md, docs/experiments.md) says they must be
refused: True (invalid), False (valid: the command may still fail cleanly, e.g. for missing data).
The verdicts come from oracles.py, written from the documented rules, not from the readers; the
mutations themselves are in mutate.py. The families (FAMILIES) mutate seed files made by a real
training run (seeds()):

npz-header      a member's .npy header text edited (cut off, shape, dtype, order, keys, length
                field, version, magic; whitespace only = valid), the archive rewritten with
                stored members and valid CRCs: model files (eval, export) and checkpoints (resume)
npz-member      members truncated, extended, removed, duplicated, renamed, added, compressed,
                flagged encrypted, given NaN; reordered, repacked or perturbed (valid)
model-json      model metadata edited by key: set to a value from a hostile pool, deleted, added
checkpoint-json checkpoint metadata edited by key (history records, RNG states, epochs, ...)
json-depth      metadata values nested 20 to 100,000 levels deep
toml-key        config files (train -c) and experiment files edited by key
toml-depth      configs, experiment files and a checkpoint's config nested 33 to 100,000 deep
                (arrays, inline tables, dotted table headers)
long-names      variant, experiment and config names of 100 to 1,000,000 characters
huge-grid       experiment grids of 10,001 to 10^12 variants (times seeds), max_runs edits
csv             history.csv fields of up to 1,000,000 characters, missing and extra fields,
                strings, NaN, infinities, negative and huge epochs and values (plot)
"""

from __future__ import annotations

import io
import json
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from mutate import (
    POOL,
    deep_toml,
    depth,
    edit,
    header_edit,
    json_paths,
    member_edit,
    near,
    nested,
    pack,
    split_npy,
    toml_document,
    unpack,
)

MAX_DEPTH = 32
SOURCES = ("fashion-mnist", "mnist", "sample", "npz", "csv")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "silu")


@dataclass
class Case:
    family: str
    what: str  # the mutation, for reports
    command: str  # eval, export, resume, train, experiment, plot
    files: dict[str, bytes]  # path in the case directory -> content
    invalid: bool  # the schema says the command must refuse it


@dataclass
class Seeds:
    model: bytes
    checkpoint: bytes
    run_config: str  # the run's config.toml, which its checkpoint records
    history: str
    train_config: str
    experiment: str


TRAIN_CONFIG = """name = "seed"
[model]
hidden = [8]
[training]
epochs = 1
batch_size = 64
[data]
source = "sample"
"""

EXPERIMENT = """name = "seed"
seeds = 1
[overrides]
training = { epochs = 1, batch_size = 64 }
model = { hidden = [8] }
data = { source = "sample" }
[[variants]]
name = "tanh"
"""


def seeds(work: Path) -> Seeds:
    """A real two-epoch run on the shipped sample: its files are the fuzzers' starting points."""
    from netlab.cli import main

    run = work / "seed-run"
    assert (
        main(
            [
                "train",
                "--data",
                "sample",
                "--epochs",
                "2",
                "--hidden",
                "8",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    return Seeds(
        (run / "model.npz").read_bytes(),
        (run / "checkpoint.npz").read_bytes(),
        (run / "config.toml").read_text(),
        (run / "history.csv").read_text(),
        TRAIN_CONFIG,
        EXPERIMENT,
    )


def argv(case: Case, d: Path) -> list[str]:
    """The command line that reads the case's files in directory `d`."""
    return {
        "eval": ["eval", str(d / "model.npz"), "--json"],
        "export": ["export", str(d / "model.npz"), str(d / "out.onnx")],
        "resume": ["train", "--resume", str(d / "run"), "--json"],
        "train": [
            "train",
            "-c",
            str(d / "config.toml"),
            "--epochs",
            "1",
            "--hidden",
            "8",
            "--batch-size",
            "64",
            "--quiet",
        ],
        "experiment": ["experiment", str(d / "exp.toml"), "--out", str(d / "out"), "--json"],
        "plot": ["plot", str(d / "run"), "--out", str(d / "curves.png")],
    }[case.command]


# --------------------------------------------------------------------------- families


def _meta_member(members: list[tuple[str, bytes]]) -> tuple[int, Any]:
    at = [n for n, _ in members].index("metadata.npy")
    _, _, data = split_npy(members[at][1])
    return at, json.loads(data)


def _with_meta(members: list[tuple[str, bytes]], meta: Any) -> bytes:
    """The archive with `meta` as its metadata (a str: JSON text as it is)."""
    at, _ = _meta_member(members)
    blob = (meta if isinstance(meta, str) else json.dumps(meta)).encode()
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(blob, np.uint8))
    out = list(members)
    out[at] = ("metadata.npy", buf.getvalue())
    return pack(out)


def _npz_case(
    family: str,
    s: Seeds,
    rng: random.Random,
    data: bytes,
    what: str,
    invalid: bool,
    checkpoint: bool,
) -> Case:
    if checkpoint:
        files = {"run/checkpoint.npz": data, "run/config.toml": s.run_config.encode()}
        return Case(family, what, "resume", files, invalid)
    return Case(family, what, rng.choice(["eval", "eval", "export"]), {"model.npz": data}, invalid)


def npz_header(s: Seeds, rng: random.Random) -> Case:
    checkpoint = rng.random() < 0.4
    members = unpack(s.checkpoint if checkpoint else s.model)
    at = rng.randrange(len(members))
    new, what, invalid = header_edit(rng, *split_npy(members[at][1]))
    members[at] = (members[at][0], new)
    return _npz_case(
        "npz-header", s, rng, pack(members), f"{members[at][0]}: {what}", invalid, checkpoint
    )


def npz_member(s: Seeds, rng: random.Random) -> Case:
    checkpoint = rng.random() < 0.4
    arrays = ("flat", "best_flat", "opt.velocity") if checkpoint else ("W1", "W2", "b1", "b2")
    data, what, invalid = member_edit(rng, unpack(s.checkpoint if checkpoint else s.model), arrays)
    return _npz_case("npz-member", s, rng, data, what, invalid, checkpoint)


def model_json(s: Seeds, rng: random.Random, family: str = "model-json") -> Case:
    return _json_case(s, rng, family, checkpoint=False)


def checkpoint_json(s: Seeds, rng: random.Random, family: str = "checkpoint-json") -> Case:
    return _json_case(s, rng, family, checkpoint=True)


def _json_case(s: Seeds, rng: random.Random, family: str, checkpoint: bool) -> Case:
    """One edit of the JSON metadata of a model (or a checkpoint, whose config_toml text is left
    to the TOML families), judged by the oracle of its format."""
    from oracles import checkpoint_meta_ok, model_meta_ok

    members = unpack(s.checkpoint if checkpoint else s.model)
    _, meta = _meta_member(members)
    invalid = None
    if family == "json-depth":
        path = rng.choice([p for p in json_paths(meta) if len(p) <= 2])
        new, what, invalid = _deepen(meta, path, rng)
    else:
        paths = [p for p in json_paths(meta) if not (checkpoint and p[0] == "config_toml")]
        new, what = edit(meta, rng.choice(paths), rng)
    if invalid is None:
        invalid = not (
            checkpoint_meta_ok(new, meta, s.run_config) if checkpoint else model_meta_ok(new, meta)
        )
    return _npz_case(family, s, rng, _with_meta(members, new), what, invalid, checkpoint)


def _deepen(meta: Any, path: tuple, rng: random.Random) -> tuple[Any, str, bool | None]:
    """(metadata JSON text with the value at `path` nested n deep, what, invalid or None when
    the oracle must judge the object, which is then returned instead of the text)."""
    meta = json.loads(json.dumps(meta))
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    if rng.random() < 0.2:  # an unknown key (allowed) beside the known ones
        path, parent = ("zz_extra",), meta
    n = rng.choice([20, 31, 33, 100, 1000, 5000, 100_000])
    kind = rng.choice(["list", "dict"])
    what = f"{'.'.join(map(str, path))} = {kind} nested {n} deep"
    if n + len(path) <= MAX_DEPTH:
        parent[path[-1]] = nested(n, kind)
        return meta, what, None
    parent[path[-1]] = "@@deep@@"
    deep = "[" * n + "1" + "]" * n if kind == "list" else '{"a": ' * n + "1" + "}" * n
    return json.dumps(meta).replace('"@@deep@@"', deep), what, True


def json_depth(s: Seeds, rng: random.Random) -> Case:
    if rng.random() < 0.5:
        return model_json(s, rng, "json-depth")
    return checkpoint_json(s, rng, "json-depth")


def toml_key(s: Seeds, rng: random.Random) -> Case:
    if rng.random() < 0.7:
        raw = tomllib.loads(s.train_config)
        section = rng.choice(["model", "training", "data", "name", "schema", "optimizer"])
        if section in ("name", "schema"):
            raw[section] = rng.choice([*POOL, "ok-name", 2, 1])
            what = f"{section} = {json.dumps(raw[section])[:40]}"
        else:
            keys = list(raw.get(section, {})) + [
                "epochs",
                "lr",
                "dropout",
                "hidden",
                "source",
                "bogus",
                "momentum",
                "val_fraction",
            ]
            key = rng.choice(keys)
            value = (
                rng.choice(POOL)
                if rng.random() < 0.7
                else near(raw.get(section, {}).get(key, 1), rng)
            )
            raw.setdefault(section, {})[key] = value
            what = f"{section}.{key} = {json.dumps(value)[:40]}"
        text = toml_document(raw)
        invalid = _config_invalid(text)
        return Case("toml-key", what, "train", {"config.toml": text.encode()}, invalid)
    return _experiment_case("toml-key", rng, _experiment_key_edit)


def _config_invalid(text: str) -> bool:
    from oracles import config_ok

    if len(text) > 1 << 20:
        return True
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return True
    return depth(raw) > MAX_DEPTH or config_ok(raw) is None


def _experiment_key_edit(rng: random.Random) -> tuple[dict[str, Any], str]:
    raw = tomllib.loads(EXPERIMENT)
    key = rng.choice(
        ["name", "seeds", "max_runs", "variants", "grid", "overrides", "base", "bogus"]
    )
    value: Any = rng.choice(POOL)
    if key == "seeds" and rng.random() < 0.6:
        value = rng.choice([0, -1, 1001, 10**9, [0, 0], [], [0, -1], [1], [2**63], [0.5], 2])
    if key == "max_runs" and rng.random() < 0.6:
        value = rng.choice([0, 1, 10**6, 10**6 + 1, -1, 1.5, "10"])
    if key == "variants" and rng.random() < 0.6:
        value = rng.choice(
            [
                [{"name": "results.md"}],
                [{"name": ""}],
                [{"name": "a"}, {"name": "a"}],
                [{"model": {"hidden": [4]}}],
                [{"name": "b", "optimizer": {"lr": 1}}],
                [{"name": "ok", "training": {"epochs": 0}}],
                [{"name": "../../x"}],
            ]
        )
    if key == "grid" and rng.random() < 0.6:
        value = rng.choice(
            [
                {},
                {"model": {}},
                {"model": {"hidden": []}},
                {"x": {"a": [1]}},
                {"training": {"lr": [0.1, 0.2]}},
                {"training": {"lr": [-1.0]}},
            ]
        )
    raw[key] = value
    return raw, f"{key} = {json.dumps(value)[:40]}"


def _experiment_case(family: str, rng: random.Random, make: Any) -> Case:
    """An experiment file from make(rng); valid sweeps of more than 2 runs are drawn again (the
    harness trains what it accepts)."""
    from oracles import experiment_ok

    while True:
        raw, what = make(rng)
        text = raw if isinstance(raw, str) else toml_document(raw)
        try:
            parsed = tomllib.loads(text)
            ok, runs = experiment_ok(parsed) if len(text) <= 1 << 20 else (False, 0)
        except (tomllib.TOMLDecodeError, RecursionError, ValueError):
            ok, runs = False, 0
        if not ok or runs <= 2:
            return Case(family, what, "experiment", {"exp.toml": text.encode()}, not ok)


def toml_depth(s: Seeds, rng: random.Random) -> Case:
    text, what = deep_toml(rng)
    where = rng.choice(["train", "experiment", "resume"])
    if where == "train":
        return Case("toml-depth", what, "train", {"config.toml": text.encode()}, True)
    if where == "experiment":
        return Case("toml-depth", what, "experiment", {"exp.toml": text.encode()}, True)
    members = unpack(s.checkpoint)
    _, meta = _meta_member(members)
    meta["config_toml"] = text
    files = {
        "run/checkpoint.npz": _with_meta(members, meta),
        "run/config.toml": s.run_config.encode(),
    }
    return Case("toml-depth", f"checkpoint config_toml: {what}", "resume", files, True)


def long_names(s: Seeds, rng: random.Random) -> Case:
    n = rng.choice([100, 199, 200, 201, 255, 256, 300, 4096, 1_000_000])
    kind = rng.choice(["variant", "variant", "experiment", "grid", "config"])
    if kind == "config":
        text = TRAIN_CONFIG.replace('name = "seed"', f'name = "{"n" * n}"')
        return Case(
            "long-names", f"config name of {n}", "train", {"config.toml": text.encode()}, n > 100
        )

    def make(rng: random.Random) -> tuple[dict[str, Any], str]:
        raw = tomllib.loads(EXPERIMENT)
        if kind == "variant":
            raw["variants"][0]["name"] = rng.choice(["v", "é", "-", "/"]) * n
        elif kind == "experiment":
            raw["name"] = "e" * n
        else:
            del raw["variants"]
            raw["grid"] = {"model": {"hidden": [[1] * min(n // 2, 100)]}}
        return raw, f"{kind} name of {n} characters"

    return _experiment_case("long-names", rng, make)


def huge_grid(s: Seeds, rng: random.Random) -> Case:
    def make(rng: random.Random) -> tuple[dict[str, Any], str]:
        raw = tomllib.loads(EXPERIMENT)
        keys = rng.choice([2, 3, 4])
        per = rng.choice([2, 101, 1000]) if keys > 2 else rng.choice([1, 2, 101, 1000])
        names = ["l2", "dropout", "label_smoothing", "momentum"][:keys]
        raw["grid"] = {"training": {k: [i / (10 * per) for i in range(per)] for k in names}}
        raw["seeds"] = rng.choice([1, 3, 1000])
        if rng.random() < 0.3:
            raw["max_runs"] = rng.choice([1, 10**6, 10**6 + 1])
        return raw, f"grid of {per}^{keys} variants x {raw['seeds']} seeds"

    return _experiment_case("huge-grid", rng, make)


def csv_history(s: Seeds, rng: random.Random) -> Case:
    from oracles import csv_ok

    lines = [line.split(",") for line in s.history.splitlines()]
    header, rows = lines[0], lines[1:]
    op = rng.choice(["field", "field", "field", "drop", "add", "header", "rows"])
    what = op
    if op == "field":
        r, c = rng.randrange(len(rows)), rng.randrange(len(header))
        n = rng.choice([1000, 131072, 131073, 200_000, 1_000_000])
        value = rng.choice(
            [
                "nan",
                "inf",
                "-inf",
                "-1",
                "1e308",
                "0",
                "1.5",
                "2",
                "abc",
                "",
                "1" * n,
                "x" * n,
                "-5",
                "1e12",
                "1_0",
                " 1 ",
                "1.0",
                "NaN",
            ]
        )
        rows[r][c] = value
        what = f"row {r + 1} {header[c]} = {value[:20]!r} ({len(value)} characters)"
    elif op == "drop":
        del rows[rng.randrange(len(rows))][rng.randrange(len(header))]
    elif op == "add":
        rows[rng.randrange(len(rows))].append("0.5")
    elif op == "header":
        c = rng.randrange(len(header))
        header = rng.choice(
            [
                header[:c] + header[c + 1 :],
                header + ["extra"],
                header + [header[c]],
                header[:c] + ["bogus"] + header[c + 1 :],
            ]
        )
    else:
        rows = rng.choice([rows[::-1], rows + rows, [], rows[:1]])
    text = "\n".join(",".join(line) for line in [header, *rows]) + "\n"
    files = {"run/history.csv": text.encode()}
    return Case("csv", what, "plot", files, not csv_ok(header, rows))


FAMILIES = {
    "npz-header": (npz_header, 40),
    "npz-member": (npz_member, 30),
    "model-json": (model_json, 50),
    "checkpoint-json": (checkpoint_json, 45),
    "json-depth": (json_depth, 15),
    "toml-key": (toml_key, 45),
    "toml-depth": (toml_depth, 15),
    "long-names": (long_names, 15),
    "huge-grid": (huge_grid, 10),
    "csv": (csv_history, 35),
}  # family: (generator, share of the cases in 300)


def cases(s: Seeds, n: int, seed: int = 16) -> list[Case]:
    """n cases, each family's share of them (at least one each), in a reproducible order."""
    rng = random.Random(seed)
    total = sum(share for _, share in FAMILIES.values())
    out = []
    for make, share in FAMILIES.values():
        out += [make(s, rng) for _ in range(max(1, round(n * share / total)))]
    return out
