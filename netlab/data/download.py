"""Downloads of the official IDX files over HTTPS, each verified by its SHA-256 before it is kept.

A failed or corrupted download never replaces or leaves a file: bytes go to a temporary file beside
the target, are verified, and only then renamed into place. Files already present with the right
checksum are kept. Which digest is checked depends on what the publisher lists: Fashion-MNIST's of
the decompressed data, MNIST's of the .gz file itself.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .locate import default_download_dir

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Remote:
    """Where a dataset's four .gz files come from and how each is verified."""

    base_url: str
    sha256: dict[str, str]  # stem (no .gz) -> hex digest
    digest_of: str = "data"  # "data": of the decompressed bytes; "gz": of the .gz file


def check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise DataError(
            f"refusing to download over {parts.scheme or 'no scheme'}: {url}; use an https:// URL"
        )


def file_digest(path: Path, digest_of: str) -> str:
    """SHA-256 of a .gz file's decompressed bytes ("data") or of the file itself ("gz")."""
    digest = hashlib.sha256()
    opener = gzip.open if digest_of == "data" else open
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    remote: Remote,
    dest: str | Path | None = None,
    base_url: str | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
    timeout: float = 60.0,
    dataset: str = "fashion-mnist",
) -> list[dict]:
    """Fetch the four .gz files of `remote` into `dest` (default: default_download_dir(dataset)).

    `progress(name, bytes_done, bytes_total_or_None)` is called as data arrives.
    """
    dest = Path(dest).expanduser() if dest is not None else default_download_dir(dataset)
    base_url = base_url or remote.base_url
    check_url(base_url)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {dest} ({exc.strerror}); choose another --dir") from None
    results = []
    for stem, expected in remote.sha256.items():
        final = dest / (stem + ".gz")
        if final.is_file():
            try:
                if file_digest(final, remote.digest_of) == expected:
                    results.append({"file": str(final), "status": "present"})
                    continue
            except (OSError, EOFError, zlib.error):
                pass  # corrupt: fetched again below, replaced only once verified
        url = urllib.parse.urljoin(
            base_url if base_url.endswith("/") else base_url + "/", stem + ".gz"
        )
        _fetch_verified(url, final, expected, remote.digest_of, progress, timeout)
        results.append({"file": str(final), "status": "downloaded"})
    return results


def _fetch_verified(
    url: str,
    final: Path,
    expected: str,
    digest_of: str,
    progress: Callable | None,
    timeout: float,
) -> None:
    import http.client  # imported here: http and ssl are needed by nothing else
    import urllib.request

    name = final.name
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=final.parent)
    except OSError as exc:
        raise DataError(
            f"cannot write in {final.parent} ({exc.strerror}); choose another --dir"
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    done = 0
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(name, done, total)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                # URLError, HTTPError, timeouts (OSError); bad URLs, dropped connections (others)
                raise DataError(
                    f"download of {url} failed ({type(exc).__name__}: {exc}); "
                    "check the network or --base-url"
                ) from None
            out.flush()
            os.fsync(out.fileno())
        try:
            digest = file_digest(tmp, digest_of)
        except (OSError, EOFError, zlib.error):
            raise DataError(
                f"{url} is not a valid gzip file; the download is corrupt, retry"
            ) from None
        if digest != expected:
            raise DataError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {digest}; "
                "the file was not saved, retry or use another --base-url"
            )
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except OSError as exc:  # disk full or unwritable while saving
        raise DataError(
            f"could not save {final} ({exc.strerror or exc}); nothing was replaced"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
