"""Hostile files: structure-aware mutants of real netlab files, each with the schema's verdict.

A Case is the files to write into an empty directory, the netlab command that reads them, and
whether the documented schema (docs/reliability.md, docs/experiments.md) says they must be
refused: True (invalid), False (valid: the command may still fail cleanly, e.g. for missing data).
The verdicts come from oracles written here from the documented rules, not from the readers.
The families (FAMILIES) mutate seed files made by a real training run (seeds()):

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
import math
import random
import struct
import tomllib
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from netlab.config import config_from_dict

MAX_DEPTH = 32
SOURCES = ("fashion-mnist", "mnist", "sample", "npz", "csv")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "silu")
NAN, INF = float("nan"), float("inf")


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
    assert main(["train", "--data", "sample", "--epochs", "2", "--hidden", "8", "--out",
                 str(run), "--quiet"]) == 0  # fmt: skip
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
        ],  # fmt: skip
        "experiment": ["experiment", str(d / "exp.toml"), "--out", str(d / "out"), "--json"],
        "plot": ["plot", str(d / "run"), "--out", str(d / "curves.png")],
    }[case.command]


# --------------------------------------------------------------------------- archives


def unpack(npz: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(npz)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def pack(members: list[tuple[str, bytes]], deflate: tuple[str, ...] = (),
         encrypt: tuple[str, ...] = ()) -> bytes:  # fmt: skip
    """An archive of stored members with valid CRCs (Python's zipfile computes them); members
    named in `encrypt` get the "encrypted" flag in their local and central headers."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": wanted here
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
                zf.writestr(info, data)
    out = bytearray(buf.getvalue())
    for name in encrypt:
        with zipfile.ZipFile(io.BytesIO(bytes(out))) as zf:
            local = zf.getinfo(name).header_offset
        out[local + 6] |= 0x1
        central = out.find(b"PK\x01\x02")
        while central >= 0:
            n = int.from_bytes(out[central + 28 : central + 30], "little")
            if out[central + 46 : central + 46 + n] == name.encode():
                out[central + 8] |= 0x1
            central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def split_npy(member: bytes) -> tuple[bytes, bytes, bytes]:
    """(magic with version, header text, data) of a version 1.0 .npy."""
    (length,) = struct.unpack("<H", member[8:10])
    return member[:8], member[10 : 10 + length], member[10 + length :]


def join_npy(magic: bytes, text: bytes, data: bytes, length: int | None = None) -> bytes:
    return magic + struct.pack("<H", len(text) if length is None else length) + text + data


def _padded(text: str, like: bytes) -> bytes:
    raw = text.encode("latin1", "replace")
    width = max(len(like), len(raw) + 1)
    return raw + b" " * (width - len(raw) - 1) + b"\n"


def _header(descr: Any, fortran: Any, shape: Any, extra: str = "") -> str:
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran!r}, 'shape': {shape!r}, {extra}}}"


def header_edit(
    rng: random.Random, magic: bytes, text: bytes, data: bytes
) -> tuple[bytes, str, bool]:
    """One edit of a member's header: (new member, what, invalid)."""
    head = eval(text.decode("latin1"))  # noqa: S307 - our own seed file's header
    d, f, s = head["descr"], head["fortran_order"], head["shape"]
    op = rng.choice(["cut", "shape", "descr", "fortran", "keys", "not-a-dict", "length",
                     "version", "magic", "respace"])  # fmt: skip
    if op == "cut":
        k = rng.randrange(1, len(text.rstrip()) - 1)
        return join_npy(magic, _padded(text[:k].decode("latin1"), text), data), f"cut at {k}", True
    if op == "shape":
        other = rng.choice([(), (0,), (s[0] + 1,) + s[1:], s + (1,), (-1,), (2**40,), (True,),
                            ("a",), (1.5,), list(s), s[::-1] if len(s) > 1 else (s[0], 1)])  # fmt: skip
        new = _header(d, f, other)
        return join_npy(magic, _padded(new, text), data), f"shape {other!r}", other != s
    if op == "descr":
        other = rng.choice(["<f8", ">f4", "<i4", "|u1", "|O", "<U3", "|V4", "<f2", "<c8", "x", "",
                            1, None, [("a", "<f4")], "(2,)<f4", "<M8[s]"])  # fmt: skip
        new = _header(other, f, s)
        return join_npy(magic, _padded(new, text), data), f"descr {other!r}", other != d
    if op == "fortran":
        other = rng.choice([True, 1, None, "False", 0])
        return (
            join_npy(magic, _padded(_header(d, other, s), text), data),
            f"fortran {other!r}",
            True,
        )
    if op == "keys":
        new = rng.choice([_header(d, f, s, "'x': 1, "), f"{{'descr': {d!r}, 'shape': {s!r}}}",
                          f"{{'fortran_order': {f!r}, 'shape': {s!r}}}"])  # fmt: skip
        return join_npy(magic, _padded(new, text), data), "keys", True
    if op == "not-a-dict":
        new = rng.choice(["[1, 2]", "", "{", _header(d, f, s) + " junk", "(" * 5000,
                          "{'descr': " + "[" * 3000 + "]" * 3000 + "}", "{'a': 10**10**10}",
                          "\x00{}", "{'descr': '<f4', 'fortran_order': False, 'shape': (9" + "9" * 5000 + ",)}"])  # fmt: skip
        raw = new.encode("latin1")
        return join_npy(magic, raw, data), f"header {new[:30]!r}", True
    if op == "length":
        length = rng.choice([0, len(text) - 1, len(text) + 1, 65535, len(text) + len(data)])
        return join_npy(magic, text, data, length), f"header length {length}", True
    if op == "version":
        version = rng.choice([b"\x02\x00", b"\x03\x00", b"\x00\x09", b"\xff\xff"])
        return join_npy(magic[:6] + version, text, data), f"version {version!r}", True
    if op == "magic":
        return join_npy(b"\x93NUMPX" + magic[6:], text, data), "magic", True
    new = _header(d, f, s).replace(", ", ",  ").replace("{", "{ ")
    return join_npy(magic, _padded(new, text), data), "whitespace", False


def member_edit(rng: random.Random, members: list[tuple[str, bytes]], arrays: tuple[str, ...]
                ) -> tuple[bytes, str, bool]:  # fmt: skip
    """One archive-level edit: (archive, what, invalid)."""
    names = [n for n, _ in members]
    pick = rng.choice(names)
    at = names.index(pick)
    op = rng.choice(["truncate", "extend", "remove", "duplicate", "rename", "extra", "compress",
                     "encrypt", "nan", "perturb", "reorder", "repack"])  # fmt: skip
    out = list(members)
    if op in ("truncate", "extend"):
        k = rng.choice([1, 4, 100, len(out[at][1]) // 2])
        data = out[at][1]
        out[at] = (pick, data[:-k] if op == "truncate" else data + bytes(k))
        return pack(out), f"{op} {pick} by {k}", True
    if op == "remove":
        del out[at]
        return pack(out), f"remove {pick}", True
    if op == "duplicate":
        return pack(out + [out[at]]), f"duplicate {pick}", True
    if op == "rename":
        other = rng.choice(["W9.npy", "metadata", "x.txt", "../x.npy", "a" * 300 + ".npy",
                            names[(at + 1) % len(names)], "/abs.npy"])  # fmt: skip
        out[at] = (other, out[at][1])
        return pack(out), f"rename {pick} to {other[:20]!r}", True
    if op == "extra":
        buf = io.BytesIO()
        np.save(buf, np.zeros(3, np.float32))
        return pack(out + [("extra.npy", buf.getvalue())]), "extra member", True
    if op == "compress":
        return pack(out, deflate=(pick,)), f"deflate {pick}", True
    if op == "encrypt":
        return pack(out, encrypt=(pick,)), f"encrypted flag on {pick}", True
    float_members = [i for i, n in enumerate(names) if n[:-4] in arrays]
    if op in ("nan", "perturb"):
        i = rng.choice(float_members)
        magic, text, data = split_npy(out[i][1])
        values = np.frombuffer(data, np.float32).copy()
        j = rng.randrange(values.size)
        values[j] = rng.choice([NAN, INF, -INF]) if op == "nan" else values[j] + 0.25
        out[i] = (out[i][0], join_npy(magic, text, values.tobytes()))
        return pack(out), f"{op} {out[i][0]}[{j}]", op == "nan"
    if op == "reorder":
        rng.shuffle(out)
    return pack(out), op, False


# --------------------------------------------------------------------------- JSON and TOML values


def nested(depth: int, kind: str = "list") -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        items = list(item.values()) if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((x, level + 1) for x in items)
    return deepest


POOL = [None, True, False, 0, 1, 2, -1, -5, 7, 10**12, 10**60, 2**63, 2**128, 0.5, 1.5, -0.5,
        1e-320, 1e-31, 1e-30, 1e30, 1e31, 1e38, 1e308, NAN, INF, -INF, "", "x", "relu", "sgd",
        "PCG64", "MT19937", "float64", "sample", "mnist", "imagenet", "netlab-mlp", "false",
        "x" * 5000, [], [1], ["a", "b"], [[1, 2]], {}, {"a": 1}, {"shuffle": 1}, nested(5),
        nested(20)]  # fmt: skip


def near(value: Any, rng: random.Random) -> Any:
    """A value close to a valid one: the same type, a little off (or the edge of its range)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([value + 1, value - 1, -value, value * 2**64, 0])
    if isinstance(value, float):
        return rng.choice([value * (1 + 1e-12), -value, value * 1e40, value / 1e300, value + 1])
    return rng.choice(POOL)


def json_paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Paths to every value, list items sampled (first, second, last)."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += json_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i in sorted({0, 1, len(obj) - 1} & set(range(len(obj)))):
            out += json_paths(obj[i], prefix + (i,))
    return out


def edit(obj: Any, path: tuple, rng: random.Random) -> tuple[Any, str]:
    """A deep copy of `obj` with the value at `path` set, deleted, or a key added beside it."""
    obj = json.loads(json.dumps(obj))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    op = rng.choices(["set", "near", "delete", "add"], [5, 3, 2, 1])[0]
    name = ".".join(map(str, path))
    if op == "delete" and isinstance(parent, dict):
        del parent[key]
        return obj, f"delete {name}"
    if op == "add" and isinstance(parent, dict):
        parent["zz_unknown"] = rng.choice(POOL)
        return obj, f"add a key beside {name}"
    value = near(parent[key], rng) if op == "near" else rng.choice(POOL)
    parent[key] = value
    return obj, f"{name} = {json.dumps(value)[:40]}"


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_document(raw: dict[str, Any]) -> str:
    """TOML for {top-level values, and tables of values}; array-of-tables for lists of dicts."""
    lines, tables = [], []
    for key, value in raw.items():
        if isinstance(value, dict):
            tables.append(f"[{json.dumps(key)}]")
            tables += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()
                       if v is not None]  # fmt: skip
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables.append(f"[[{json.dumps(key)}]]")
                tables += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in item.items()
                           if v is not None]  # fmt: skip
        elif value is not None:
            lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    return "\n".join(lines + tables) + "\n"


def deep_toml(rng: random.Random) -> tuple[str, str]:
    n = rng.choice([33, 40, 100, 1000, 2000, 100_000])
    kind = rng.choice(["array", "inline", "tables"])
    if kind == "array":
        return f"[model]\nhidden = {'[' * n}{']' * n}\n", f"array {n} deep"
    if kind == "inline":
        return "x = " + "{a = " * n + "1" + "}" * n + "\n", f"inline tables {n} deep"
    return "[" + ".".join(["a"] * min(n, 5000)) + "]\n", f"{min(n, 5000)} dotted tables"


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


def _npz_case(family: str, s: Seeds, rng: random.Random, data: bytes, what: str, invalid: bool,
              checkpoint: bool) -> Case:  # fmt: skip
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
    return _npz_case("npz-header", s, rng, pack(members), f"{members[at][0]}: {what}", invalid,
                     checkpoint)  # fmt: skip


def npz_member(s: Seeds, rng: random.Random) -> Case:
    checkpoint = rng.random() < 0.4
    arrays = ("flat", "best_flat", "opt.velocity") if checkpoint else ("W1", "W2", "b1", "b2")
    data, what, invalid = member_edit(rng, unpack(s.checkpoint if checkpoint else s.model), arrays)
    return _npz_case("npz-member", s, rng, data, what, invalid, checkpoint)


def model_json(s: Seeds, rng: random.Random, family: str = "model-json") -> Case:
    from oracles import model_meta_ok

    members = unpack(s.model)
    _, meta = _meta_member(members)
    invalid = None
    if family == "json-depth":
        path = rng.choice([p for p in json_paths(meta) if len(p) <= 2])
        new, what, invalid = _deepen(meta, path, rng)
    else:
        new, what = edit(meta, rng.choice(json_paths(meta)), rng)
    if invalid is None:
        invalid = not model_meta_ok(new, meta)
    return _npz_case(family, s, rng, _with_meta(members, new), what, invalid, False)


def checkpoint_json(s: Seeds, rng: random.Random, family: str = "checkpoint-json") -> Case:
    from oracles import checkpoint_meta_ok

    members = unpack(s.checkpoint)
    _, meta = _meta_member(members)
    invalid = None
    if family == "json-depth":
        path = rng.choice([p for p in json_paths(meta) if len(p) <= 2])
        new, what, invalid = _deepen(meta, path, rng)
    else:
        paths = [p for p in json_paths(meta) if p[0] != "config_toml"]
        new, what = edit(meta, rng.choice(paths), rng)
    if invalid is None:
        invalid = not checkpoint_meta_ok(new, meta, s.run_config)
    return _npz_case(family, s, rng, _with_meta(members, new), what, invalid, True)


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
            keys = list(raw.get(section, {})) + ["epochs", "lr", "dropout", "hidden", "source",
                                                 "bogus", "momentum", "val_fraction"]  # fmt: skip
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
        value = rng.choice([[{"name": "results.md"}], [{"name": ""}], [{"name": "a"}, {"name": "a"}],
                            [{"model": {"hidden": [4]}}], [{"name": "b", "optimizer": {"lr": 1}}],
                            [{"name": "ok", "training": {"epochs": 0}}], [{"name": "../../x"}]])  # fmt: skip
    if key == "grid" and rng.random() < 0.6:
        value = rng.choice([{}, {"model": {}}, {"model": {"hidden": []}}, {"x": {"a": [1]}},
                            {"training": {"lr": [0.1, 0.2]}}, {"training": {"lr": [-1.0]}}])  # fmt: skip
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
        return Case("long-names", f"config name of {n}", "train", {"config.toml": text.encode()},
                    n > 100)  # fmt: skip

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
        value = rng.choice(["nan", "inf", "-inf", "-1", "1e308", "0", "1.5", "2", "abc", "",
                            "1" * n, "x" * n, "-5", "1e12", "1_0", " 1 ", "1.0", "NaN"])  # fmt: skip
        rows[r][c] = value
        what = f"row {r + 1} {header[c]} = {value[:20]!r} ({len(value)} characters)"
    elif op == "drop":
        del rows[rng.randrange(len(rows))][rng.randrange(len(header))]
    elif op == "add":
        rows[rng.randrange(len(rows))].append("0.5")
    elif op == "header":
        c = rng.randrange(len(header))
        header = rng.choice([header[:c] + header[c + 1 :], header + ["extra"], header + [header[c]],
                             header[:c] + ["bogus"] + header[c + 1 :]])  # fmt: skip
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
