"""Data sources, one registry entry each: where training and test arrays come from.

An entry (a DataSource registered in DATA_SOURCES) loads a `Dataset`: features and int64 labels
for train and test (and validation, if the source has its own), the class names, and the scale
that inputs are divided by before standardization (255 for pixels). `location` is what the user
passed: a directory for the IDX sources (--data-dir), a file for `npz` and `csv` (--data FILE).
Input size and class count come from the data. Importing this module does not import NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..registry import Registry
from .download import Remote

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian/Ubuntu: dataset-fashion-mnist
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
MAX_CLASSES = 10_000


@dataclass
class Dataset:
    """What a source loads (host arrays; features (n, ...) uint8 or float, labels int64)."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    class_names: tuple[str, ...]
    source: str
    location: Path | str
    how_found: str = ""
    scale: float = 255.0
    checksums_ok: bool | None = None  # None: no reference checksums
    files: tuple[dict[str, Any], ...] = ()  # per file: path, sha256 of its data, matches reference
    x_val: Any = None
    y_val: Any = None

    @property
    def n_features(self) -> int:
        return int(self.x_train[0].size)


class DataSource:
    """One source; subclass, define `load`, and register it in DATA_SOURCES.

    takes: "dir" (an optional directory, --data-dir), "file" (a path is required, --data FILE)
    or "none" (the data ships with netlab);
    suffixes: file name endings that select this source when --data is given a path.
    """

    name = ""
    summary = ""
    takes = "dir"
    suffixes: tuple[str, ...] = ()

    def load(self, location: str | None) -> Dataset:
        raise NotImplementedError


DATA_SOURCES: Registry[DataSource] = Registry("data source", instances=True)


def load_data(source: str, location: str | Path | None = None) -> Dataset:
    """Load the registered source `source` from `location` (directory or file, per the source)."""
    entry = DATA_SOURCES.get(source)
    location = str(location) if location not in (None, "") else None
    if entry.takes == "file" and location is None:
        raise DataError(
            f"data source {source!r} reads a file; pass --data path/to/file"
            f"{entry.suffixes[0] if entry.suffixes else ''}"
        )
    data = entry.load(location)
    check_dataset(data)
    return data


def source_for_path(text: str) -> str | None:
    """The registered source whose file suffix `text` ends with, or None."""
    lowered = text.lower()
    for name, entry in DATA_SOURCES.items():
        if entry.takes == "file" and any(lowered.endswith(s) for s in entry.suffixes):
            return name
    return None


def check_dataset(d: Dataset) -> None:
    """Shapes, label ranges and finiteness, one DataError naming the first problem."""
    import numpy as np

    where = f"{d.location}"
    splits = [("train", d.x_train, d.y_train), ("test", d.x_test, d.y_test)]
    if d.x_val is not None or d.y_val is not None:
        splits.append(("val", d.x_val, d.y_val))
    n_classes = len(d.class_names)
    if not 2 <= n_classes <= MAX_CLASSES:
        raise DataError(f"{where}: {n_classes} classes; expected 2 to {MAX_CLASSES}")
    features = None
    for split, x, y in splits:
        if x is None or y is None:
            raise DataError(f"{where}: the {split} split needs both features and labels")
        if x.ndim < 2 or len(x) == 0:
            raise DataError(f"{where}: {split} features must be (n, features) with n > 0; got "
                            f"shape {x.shape}")  # fmt: skip
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"{where}: {len(x)} {split} examples but labels of shape {y.shape}; features and "
                "labels must have the same length"
            )
        width = int(np.prod(x.shape[1:]))
        if features is None:
            features = width
        elif width != features:
            raise DataError(
                f"{where}: {split} examples have {width} features, train examples {features}"
            )
        if x.dtype.kind not in "uif" or (x.dtype.kind == "f" and not np.isfinite(x).all()):
            raise DataError(f"{where}: {split} features must be finite numbers ({x.dtype})")
        if y.dtype.kind not in "iu":
            raise DataError(f"{where}: {split} labels must be integers; got {y.dtype}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise DataError(
                f"{where}: {split} label {int(y.min()) if int(y.min()) < 0 else int(y.max())} "
                f"out of range; expected 0..{n_classes - 1}"
            )


def _idx_dataset(
    directory: Path,
    how: str,
    source: str,
    class_names: tuple[str, ...],
    reference: dict[str, str],
    digest_of: str = "data",
) -> Dataset:
    """The four IDX files in `directory`, checked (images (n, rows, cols) uint8, labels uint8)."""
    import numpy as np

    from .download import file_digest
    from .idx import read_idx_with_digest
    from .locate import STEMS, find_file

    arrays, files = {}, []
    for key, stem in STEMS.items():
        path = find_file(directory, stem)
        if path is None:
            raise DataError(f"{directory}: {stem} missing")
        arrays[key], digest = read_idx_with_digest(path)
        if digest_of == "gz":
            digest = file_digest(path, "gz") if path.suffix == ".gz" else None
        ok = digest is not None and digest == reference.get(stem)
        files.append({"file": str(path), "sha256": digest, "ok": ok})
        arrays[key + "_path"] = path
    for split in ("train", "test"):
        _check_idx_split(arrays, split, len(class_names))
    return Dataset(
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"].astype(np.int64),
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"].astype(np.int64),
        class_names=class_names,
        source=source,
        location=directory,
        how_found=how,
        scale=255.0,
        checksums_ok=all(f["ok"] for f in files) if reference else None,
        files=tuple(files),
    )


def _check_idx_split(arrays: dict[str, Any], split: str, n_classes: int) -> None:
    """One split's uint8 images (n, rows, cols) and labels (n,) < n_classes, or a DataError."""
    import numpy as np

    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    path = arrays[f"{split}_images_path"]
    if len(images) == 0:
        raise DataError(f"{path}: holds no images; re-download it")
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(f"{path}: expected uint8 images of shape (n, rows, cols), got "
                        f"{images.dtype} {images.shape}")  # fmt: skip
    lpath = arrays[f"{split}_labels_path"]
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{lpath}: expected uint8 labels of shape (n,), got {labels.dtype} "
                        f"{labels.shape}")  # fmt: skip
    if len(labels) != len(images):
        raise DataError(
            f"{lpath}: {len(labels)} labels for {len(images)} images; the label and image "
            "files do not belong together"
        )
    if len(labels) and int(labels.max()) >= n_classes:
        raise DataError(
            f"{lpath}: label {int(labels.max())} out of range; expected 0..{n_classes - 1}"
        )


# --------------------------------------------------------------------------- the entries

FASHION_MNIST = Remote(
    # The official files, over HTTPS (the project's GitHub repository serves the same bytes).
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    {  # SHA-256 of the decompressed official files
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",  # noqa: E501
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",  # noqa: E501
    },
    "data",
)
MNIST = Remote(
    # PyTorch's mirror of Yann LeCun's files (the original host refuses most downloads).
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    {  # SHA-256 of the .gz files as published (the same bytes on every mirror)
        "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
        "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
        "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
        "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
    },
    "gz",
)
REMOTES = {"fashion-mnist": FASHION_MNIST, "mnist": MNIST}


@DATA_SOURCES.register("fashion-mnist")
class FashionMnist(DataSource):
    summary = "Fashion-MNIST (Xiao et al. 2017), found in --data-dir, $NETLAB_DATA, the cache or "
    summary += "the Debian package, or downloaded"

    def load(self, location):
        from .locate import find_data

        directory, how = find_data(location, "fashion-mnist", (SYSTEM_DIR,))
        return _idx_dataset(directory, how, self.name, FASHION_CLASSES, FASHION_MNIST.sha256)


@DATA_SOURCES.register("mnist")
class Mnist(DataSource):
    summary = "MNIST digits, the same four IDX files in --data-dir (or the cache), or downloaded"

    def load(self, location):
        from .locate import find_data

        directory, how = find_data(location, "mnist")
        names = tuple(str(d) for d in range(10))
        return _idx_dataset(directory, how, self.name, names, MNIST.sha256, MNIST.digest_of)


@DATA_SOURCES.register("sample")
class Sample(DataSource):
    summary = "3,000 train and 1,000 test Fashion-MNIST images shipped with netlab"
    takes = "none"

    def load(self, location):
        if location:
            raise DataError(
                f"a data location ({location}) was given with the shipped sample; drop "
                "--data-dir or use --data fashion-mnist"
            )
        directory = sample_dir()
        return _idx_dataset(
            directory, "sample shipped with netlab", self.name, FASHION_CLASSES, sample_checksums()
        )


def sample_dir() -> Path:
    """The real-image sample shipped inside the package."""
    from importlib import resources

    return Path(str(resources.files("netlab.sample_data")))


def sample_checksums() -> dict[str, str]:
    text = (sample_dir() / "SHA256SUMS").read_text()
    pairs = (line.split() for line in text.splitlines() if line.strip())
    return {name.removesuffix(".gz"): digest for digest, name in pairs}


def data_info(source: str = "fashion-mnist", location: str | None = None) -> dict:
    """Where the data was found, counts per split and class, and whether checksums match."""
    import numpy as np

    d = load_data(source, location)  # reads each file once, checksums included
    n = len(d.class_names)
    return {
        "source": source,
        "location": str(d.location),
        "found_by": d.how_found,
        "train_count": int(len(d.y_train)),
        "test_count": int(len(d.y_test)),
        "features": d.n_features,
        "class_names": list(d.class_names),
        "train_per_class": np.bincount(d.y_train, minlength=n).tolist(),
        "test_per_class": np.bincount(d.y_test, minlength=n).tolist(),
        "checksums_ok": d.checksums_ok,
        "files": list(d.files),
    }
