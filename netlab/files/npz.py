"""Reading .npz archives defensively, and writing them to bytes.

netlab parses every member's .npy header itself (numpy's parser lets a cut-off header text escape
as a tokenizer error): a header must be a dict literal of at most 10,000 characters with exactly
`descr` (a plain numeric type in native byte order), `fortran_order` (False: netlab writes
C order) and `shape` (at most 32 non-negative integers); the member must be stored uncompressed,
not encrypted, and exactly as long as its header declares. Every header is checked before any
array is read, so nothing is allocated for data the file does not hold.
"""

from __future__ import annotations

import ast
import io
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"\x93NUMPY"
MAX_HEADER = 10_000  # numpy's own limit on the header text
MAX_MEMBERS = 1024
MAX_DIMS = 32
HEADER_FORMATS = {(1, 0): ("<H", "latin1"), (2, 0): ("<I", "latin1"), (3, 0): ("<I", "utf8")}
PLAIN_DESCR = re.compile(r"[<>|=]?[biufc][0-9]{1,2}")


def _parse_header(f: Any, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the .npy header at the start of `f`; ValueError naming the problem."""
    magic = f.read(len(MAGIC) + 2)
    if len(magic) < len(MAGIC) + 2 or magic[: len(MAGIC)] != MAGIC:
        raise ValueError(f"member {key!r} is not a .npy array")
    version = (magic[-2], magic[-1])
    if version not in HEADER_FORMATS:
        raise ValueError(f"member {key!r} has .npy version {version}")
    length_format, encoding = HEADER_FORMATS[version]
    raw = f.read(struct.calcsize(length_format))
    if len(raw) != struct.calcsize(length_format):
        raise ValueError(f"member {key!r} ends inside its header")
    (length,) = struct.unpack(length_format, raw)
    if length > MAX_HEADER:
        raise ValueError(f"member {key!r} has a header of {length} bytes (at most {MAX_HEADER})")
    text = f.read(length)
    if len(text) != length:
        raise ValueError(f"member {key!r} ends inside its header")
    try:
        header = ast.literal_eval(text.decode(encoding))
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"member {key!r} has a malformed header (cut off or edited)") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"member {key!r} has a header without exactly descr, fortran_order, shape")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str) or not PLAIN_DESCR.fullmatch(descr):
        raise ValueError(
            f"member {key!r} holds objects (pickles are never loaded) or other non-numbers "
            f"({descr!r:.40})"
        )
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise ValueError(f"member {key!r} has an unknown type {descr!r}") from None
    if not dtype.isnative:
        raise ValueError(f"member {key!r} is stored in non-native byte order ({descr})")
    if fortran is not False:
        raise ValueError(f"member {key!r} is not stored in C order (fortran_order {fortran!r})")
    if (
        not isinstance(shape, tuple)
        or len(shape) > MAX_DIMS
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape)
    ):
        raise ValueError(f"member {key!r} has an invalid shape {shape!r:.60}")
    return shape, dtype


def _members(path: Path, limits: dict[str, int] | None, read: bool) -> dict[str, Any]:
    on_disk = path.stat().st_size
    out: dict[str, Any] = {}
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"the archive has {len(infos)} members (at most {MAX_MEMBERS})")
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                raise ValueError(f"member {name!r:.80} is not an array")
            key = name[:-4]
            if key in out:
                raise ValueError(f"member {key!r:.80} appears twice")
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise ValueError(f"member {key!r} is compressed; netlab writes stored arrays")
            if info.flag_bits & 0x1:  # zipfile would raise RuntimeError asking for a password
                raise ValueError(f"member {key!r} is encrypted; netlab writes plain arrays")
            if info.file_size > on_disk:
                raise ValueError(f"member {key!r} claims more bytes than the file holds")
            if limits is not None and key in limits and info.file_size > limits[key]:
                raise ValueError(f"member {key!r} is larger than {limits[key]} bytes")
            with zf.open(info) as f:
                shape, dtype = _parse_header(f, key)
                size = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if f.tell() + size != info.file_size:
                    raise ValueError(f"member {key!r} is not as long as its header declares")
                out[key] = (shape, dtype)
    if not read:
        return out
    arrays = {}
    with zipfile.ZipFile(path) as zf:
        for key, (shape, dtype) in out.items():
            with zf.open(key + ".npy") as f:
                _parse_header(f, key)
                data = bytearray(f.read())  # to the end, so zipfile checks the CRC
            arrays[key] = np.frombuffer(data, dtype=dtype).reshape(shape)
    return arrays


def _checked(path: Path, limits: dict[str, int] | None, read: bool) -> dict[str, Any]:
    try:
        return _members(Path(path), limits, read)
    except ValueError:
        raise
    except (
        OSError, EOFError, KeyError, NotImplementedError, RuntimeError, struct.error,
        zipfile.BadZipFile, zipfile.LargeZipFile,
    ) as exc:  # fmt: skip
        raise ValueError(f"corrupt archive ({type(exc).__name__}: {str(exc)[:80]})") from None


def npz_members(path: Path, limits: dict[str, int] | None = None) -> dict[str, tuple]:
    """(shape, dtype) of every array in an .npz, read from the headers only.

    `limits` caps a member's byte size (name -> bytes). Raises ValueError naming the first problem
    (also for a corrupt archive).
    """
    return _checked(path, limits, read=False)


def read_npz(path: Path, limits: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Every array of an .npz (writable host arrays), after all headers passed npz_members'
    checks; a member whose bytes do not match its CRC is a ValueError too."""
    return _checked(path, limits, read=True)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz in memory (tests and tools that build model files by hand)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
