"""Reading .npz archives defensively: every member's shape and dtype from its header, before
anything is allocated, and writing them to bytes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np


def npz_members(path: Path, limits: dict[str, int] | None = None) -> dict[str, tuple]:
    """(shape, dtype) of every array in an .npz, read from the headers only, so nothing is
    allocated for data the file does not hold.

    Every member must be stored uncompressed (as np.savez writes), hold a plain (non-object)
    dtype, and be exactly as long as its header declares; `limits` caps a member's byte size
    (name -> bytes). Raises ValueError naming the first problem.
    """
    on_disk = path.stat().st_size
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                raise ValueError(f"member {name!r} is not an array")
            key = name[:-4]
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise ValueError(f"member {key!r} is compressed; netlab writes stored arrays")
            if info.flag_bits & 0x1:  # zipfile would raise RuntimeError asking for a password
                raise ValueError(f"member {key!r} is encrypted; netlab writes plain arrays")
            if info.file_size > on_disk:
                raise ValueError(f"member {key!r} claims more bytes than the file holds")
            if limits is not None and key in limits and info.file_size > limits[key]:
                raise ValueError(f"member {key!r} is larger than {limits[key]} bytes")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"member {key!r} has .npy version {version}")
                header = f.tell()
            if dtype.hasobject or dtype.itemsize == 0:
                raise ValueError(f"member {key!r} holds objects (pickles are never loaded)")
            count = 1
            for dim in shape:
                count *= dim
            if header + count * dtype.itemsize != info.file_size:
                raise ValueError(f"member {key!r} is not as long as its header declares")
            out[key] = (tuple(shape), dtype)
    return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz in memory (tests and tools that build model files by hand)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
