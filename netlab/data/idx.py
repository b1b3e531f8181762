"""The IDX file format (raw or gzip): header validation before allocation, and the data's SHA-256.

IDX is how MNIST and Fashion-MNIST are distributed: a magic number (0, 0, dtype code, number of
dimensions), the dimensions as big-endian 32-bit integers, then the data.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_GZIP_RATIO = 1100  # deflate cannot expand more than ~1032:1
_CHUNK = 1 << 20


def _read_exact(stream: Any, n: int, path: Path, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise DataError(f"{path}: truncated IDX file (file ends inside the {what}); re-download it")
    return data


def read_idx_with_digest(path: str | Path) -> tuple[np.ndarray, str]:
    """Read an IDX file (raw or gzip) into an array, and the SHA-256 of its decompressed bytes.

    The header is validated (magic number, dtype code, dimensions) and the size it declares is
    checked against the file size (or the gzip trailer) before anything is allocated, so a
    truncated, oversized or lying file is refused with a DataError.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, "rb") as raw:
            return _read_idx_stream(raw, path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise DataError(f"{path}: cannot read ({exc.strerror})") from None
        raise DataError(f"{path}: corrupt file ({exc}); re-download it") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or .gz); see `read_idx_with_digest`."""
    return read_idx_with_digest(path)[0]


def _read_idx_stream(raw: Any, path: Path) -> tuple[np.ndarray, str]:
    file_size = os.fstat(raw.fileno()).st_size
    is_gz = raw.read(2) == _GZIP_MAGIC
    raw.seek(0)
    isize = None
    if is_gz:
        if file_size < 18:
            raise DataError(f"{path}: truncated gzip file ({file_size} bytes); re-download it")
        raw.seek(-4, os.SEEK_END)
        isize = int.from_bytes(raw.read(4), "little")  # decompressed size mod 2**32
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb")
    else:
        stream = raw
    digest = hashlib.sha256()
    header = _read_exact(stream, 4, path, "header")
    digest.update(header)
    if header[0] != 0 or header[1] != 0 or header[2] not in _IDX_DTYPES or header[3] == 0:
        raise DataError(
            f"{path}: not an IDX file (magic number {header.hex()}; expected 0000 + dtype code + "
            "number of dimensions); pass the Fashion-MNIST *-ubyte files"
        )
    dtype = np.dtype(_IDX_DTYPES[header[2]])
    ndim = header[3]
    dims_bytes = _read_exact(stream, 4 * ndim, path, "dimensions")
    digest.update(dims_bytes)
    dims = tuple(int.from_bytes(dims_bytes[4 * i : 4 * i + 4], "big") for i in range(ndim))
    payload = math.prod(dims) * dtype.itemsize
    total = 4 + 4 * ndim + payload
    if is_gz:
        if total % (1 << 32) != isize or total > _MAX_GZIP_RATIO * file_size:
            raise DataError(
                f"{path}: header declares dimensions {dims} ({total} bytes) but the gzip stream "
                f"holds {isize} bytes; the file is truncated or corrupt, re-download it"
            )
    elif total != file_size:
        kind = "truncated" if total > file_size else "oversized (trailing bytes)"
        raise DataError(
            f"{path}: {kind}: header declares dimensions {dims} ({total} bytes), "
            f"file has {file_size}; re-download it"
        )
    out = np.empty(payload, dtype=np.uint8)
    view = memoryview(out)
    done = 0
    while done < payload:
        n = stream.readinto(view[done : min(done + _CHUNK, payload)])
        if not n:
            raise DataError(f"{path}: truncated IDX file ({done} of {payload} data bytes)")
        digest.update(view[done : done + n])
        done += n
    if stream.read(1):
        raise DataError(
            f"{path}: oversized: data continues past the {payload} bytes the header declares"
        )
    array = out.view(dtype).reshape(dims)
    if dtype.byteorder == ">":
        array = array.astype(dtype.newbyteorder("="))
    return array, digest.hexdigest()
