"""Atomic writes: a temporary file beside the target, fsync, rename, fsync of the directory.

A reader never sees a half-written file and an interrupted write leaves the previous file intact.
The written file gets the mode an ordinary open() would give (0666 minus the umask).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

from ..errors import OutputExistsError


def umask() -> int:
    """The process's umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Any, force: bool = False) -> None:
    """Call write(fileobj) on a temporary file beside `path`, fsync, then rename over `path`.

    Without force an existing `path` is an error (checked first, so nothing is written).
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(
            f"{path} exists; pass --force to overwrite it or choose another path"
        )
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputExistsError(
            f"cannot write in {directory} ({exc.strerror}); choose another path"
        ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp's 0600 -> what open() would have given
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputExistsError(
            f"could not write {path} ({exc.strerror}); the previous file, if any, is unchanged"
        ) from None
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    with suppress(OSError):  # make the rename durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
