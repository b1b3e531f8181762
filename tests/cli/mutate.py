"""How hostile files are made: .npz archives rewritten member by member (stored, valid CRCs),
.npy header edits, member edits, and JSON and TOML values edited by key or nested deep. The
families built from these, each case with its verdict, are in hostile.py."""

from __future__ import annotations

import ast
import io
import json
import math
import random
import struct
import warnings
import zipfile
from typing import Any

import numpy as np

NAN, INF = float("nan"), float("inf")

# --------------------------------------------------------------------------- archives


def unpack(npz: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(npz)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def pack(
    members: list[tuple[str, bytes]], deflate: tuple[str, ...] = (), encrypt: tuple[str, ...] = ()
) -> bytes:
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


def padded(text: str, like: bytes) -> bytes:
    raw = text.encode("latin1", "replace")
    width = max(len(like), len(raw) + 1)
    return raw + b" " * (width - len(raw) - 1) + b"\n"


def _header(descr: Any, fortran: Any, shape: Any, extra: str = "") -> str:
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran!r}, 'shape': {shape!r}, {extra}}}"


def header_edit(
    rng: random.Random, magic: bytes, text: bytes, data: bytes
) -> tuple[bytes, str, bool]:
    """One edit of a member's header: (new member, what, invalid)."""
    head = ast.literal_eval(text.decode("latin1"))
    d, f, s = head["descr"], head["fortran_order"], head["shape"]
    op = rng.choice(
        [
            "cut",
            "shape",
            "descr",
            "fortran",
            "keys",
            "not-a-dict",
            "length",
            "version",
            "magic",
            "respace",
        ]
    )
    if op == "cut":
        k = rng.randrange(1, len(text.rstrip()) - 1)
        return join_npy(magic, padded(text[:k].decode("latin1"), text), data), f"cut at {k}", True
    if op == "shape":
        other = rng.choice(
            [
                (),
                (0,),
                (s[0] + 1,) + s[1:],
                s + (1,),
                (-1,),
                (2**40,),
                (True,),
                ("a",),
                (1.5,),
                list(s),
                s[::-1] if len(s) > 1 else (s[0], 1),
            ]
        )
        new = _header(d, f, other)
        return join_npy(magic, padded(new, text), data), f"shape {other!r}", other != s
    if op == "descr":
        other = rng.choice(
            [
                "<f8",
                ">f4",
                "<i4",
                "|u1",
                "|O",
                "<U3",
                "|V4",
                "<f2",
                "<c8",
                "x",
                "",
                1,
                None,
                [("a", "<f4")],
                "(2,)<f4",
                "<M8[s]",
            ]
        )
        new = _header(other, f, s)
        return join_npy(magic, padded(new, text), data), f"descr {other!r}", other != d
    if op == "fortran":
        other = rng.choice([True, 1, None, "False", 0])
        return (
            join_npy(magic, padded(_header(d, other, s), text), data),
            f"fortran {other!r}",
            True,
        )
    if op == "keys":
        new = rng.choice(
            [
                _header(d, f, s, "'x': 1, "),
                f"{{'descr': {d!r}, 'shape': {s!r}}}",
                f"{{'fortran_order': {f!r}, 'shape': {s!r}}}",
            ]
        )
        return join_npy(magic, padded(new, text), data), "keys", True
    if op == "not-a-dict":
        new = rng.choice(
            [
                "[1, 2]",
                "",
                "{",
                _header(d, f, s) + " junk",
                "(" * 5000,
                "{'descr': " + "[" * 3000 + "]" * 3000 + "}",
                "{'a': 10**10**10}",
                "\x00{}",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (9" + "9" * 5000 + ",)}",
            ]
        )
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
    return join_npy(magic, padded(new, text), data), "whitespace", False


def member_edit(
    rng: random.Random, members: list[tuple[str, bytes]], arrays: tuple[str, ...]
) -> tuple[bytes, str, bool]:
    """One archive-level edit: (archive, what, invalid)."""
    names = [n for n, _ in members]
    pick = rng.choice(names)
    at = names.index(pick)
    op = rng.choice(
        [
            "truncate",
            "extend",
            "remove",
            "duplicate",
            "rename",
            "extra",
            "compress",
            "encrypt",
            "nan",
            "perturb",
            "reorder",
            "repack",
        ]
    )
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
        other = rng.choice(
            [
                "W9.npy",
                "metadata",
                "x.txt",
                "../x.npy",
                "a" * 300 + ".npy",
                names[(at + 1) % len(names)],
                "/abs.npy",
            ]
        )
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


POOL = [
    None,
    True,
    False,
    0,
    1,
    2,
    -1,
    -5,
    7,
    10**12,
    10**60,
    2**63,
    2**128,
    0.5,
    1.5,
    -0.5,
    1e-320,
    1e-31,
    1e-30,
    1e30,
    1e31,
    1e38,
    1e308,
    NAN,
    INF,
    -INF,
    "",
    "x",
    "relu",
    "sgd",
    "PCG64",
    "MT19937",
    "float64",
    "sample",
    "mnist",
    "imagenet",
    "netlab-mlp",
    "false",
    "x" * 5000,
    [],
    [1],
    ["a", "b"],
    [[1, 2]],
    {},
    {"a": 1},
    {"shuffle": 1},
    nested(5),
    nested(20),
]


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
            tables += [
                f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items() if v is not None
            ]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables.append(f"[[{json.dumps(key)}]]")
                tables += [
                    f"{json.dumps(k)} = {toml_value(v)}" for k, v in item.items() if v is not None
                ]
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
