"""Where an IDX dataset's four files are looked for, in order, and the one-line error when absent.

An explicit place (--data-dir, or $NETLAB_DATA for Fashion-MNIST) is the only one searched, so a
typo is an error, not a silent fallback. Otherwise: the netlab cache, then the system directories
a package manager installs into.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
ENV = "NETLAB_DATA"  # Fashion-MNIST's directory (the study's data)


def cache_dir(dataset: str = "fashion-mnist") -> Path:
    """~/.cache/netlab/<dataset> (honouring XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "netlab" / dataset


def default_download_dir(dataset: str = "fashion-mnist") -> Path:
    """Where `netlab data download` puts the files: $NETLAB_DATA (Fashion-MNIST), else the cache."""
    env = os.environ.get(ENV) if dataset == "fashion-mnist" else None
    return Path(env).expanduser() if env else cache_dir(dataset)


def find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def missing(directory: Path) -> list[str]:
    return [stem for stem in STEMS.values() if find_file(directory, stem) is None]


def search_dirs(
    data_dir: str | Path | None, dataset: str, system_dirs: tuple[Path, ...] = ()
) -> list[tuple[Path, str]]:
    """Where the dataset is looked for, in order, each with how it was chosen."""
    if data_dir is not None:
        return [(Path(data_dir).expanduser(), "--data-dir")]
    if dataset == "fashion-mnist" and os.environ.get(ENV):
        return [(Path(os.environ[ENV]).expanduser(), f"${ENV}")]
    return [(cache_dir(dataset), "netlab cache")] + [
        (d, "system package directory") for d in system_dirs
    ]


def find_data(
    data_dir: str | Path | None = None,
    dataset: str = "fashion-mnist",
    system_dirs: tuple[Path, ...] = (),
) -> tuple[Path, str]:
    """The first directory holding all four files; DataError naming what is missing otherwise."""
    candidates = search_dirs(data_dir, dataset, system_dirs)
    for directory, how in candidates:
        if directory.is_dir() and not missing(directory):
            return directory, how
    directory, how = candidates[0]
    if how in ("--data-dir", f"${ENV}"):  # an explicit place is the only one searched
        if directory.is_file():
            raise DataError(
                f"data directory {directory} (from {how}) is a file; pass the directory that "
                f"holds the {dataset} *-ubyte files"
            )
        if not directory.is_dir():
            raise DataError(
                f"data directory {directory} (from {how}) does not exist; point it at the "
                f"{dataset} files or run `netlab data download --dataset {dataset}`"
            )
        raise DataError(
            f"data directory {directory} (from {how}) lacks {', '.join(missing(directory))}; "
            f"run `netlab data download --dataset {dataset} --dir DIR` or point it at the "
            f"{dataset} files"
        )
    searched = ", ".join(str(d) for d, _ in candidates)
    hint = (
        ", install the Debian package dataset-fashion-mnist" if dataset == "fashion-mnist" else ""
    )
    raise DataError(
        f"{dataset} not found (searched {searched}); run `netlab data download --dataset "
        f"{dataset}`{hint}, pass --data-dir, or use --data sample"
    )
