"""The user's own arrays as data sources: an .npz file, or CSV files.

npz: keys x_train, y_train, x_test, y_test; optional x_val and y_val (then no split is drawn) and
class_names (strings). csv: a header row, a label column (named `label`, else the first column),
feature columns, and optionally a `split` column whose values are train, val or test; or two files
given as --data train.csv,test.csv (each without a split column). Features that are uint8 are
taken as pixels (divided by 255 first, like the IDX sources); any other numbers as they are.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..errors import DataError
from .sources import DATA_SOURCES, Dataset, DataSource

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
NPZ_OPTIONAL = ("x_val", "y_val", "class_names")


def _dataset(arrays: dict[str, Any], names: Any, source: str, location: str) -> Dataset:
    """A Dataset from arrays by NPZ key; class names given, or 0..max label."""
    import numpy as np

    for key in ("y_train", "y_test", "y_val"):
        y = arrays.get(key)
        if y is not None and y.dtype.kind not in "iu":
            raise DataError(
                f"{location}: {key} must hold integer labels; got {y.dtype} (convert with "
                "y.astype(np.int64) before saving)"
            )
    labels = [arrays[k] for k in ("y_train", "y_test", "y_val") if arrays.get(k) is not None]
    if names is None:
        top = max((int(y.max()) for y in labels if y.size), default=1)
        names = tuple(str(c) for c in range(max(top + 1, 2)))
    x_train = arrays["x_train"]
    scale = 255.0 if x_train.dtype == np.uint8 else 1.0
    return Dataset(
        x_train=x_train,
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
        x_val=arrays.get("x_val"),
        y_val=None if arrays.get("y_val") is None else arrays["y_val"].astype(np.int64),
        class_names=tuple(names),
        source=source,
        location=location,
        how_found="--data",
        scale=scale,
    )


@DATA_SOURCES.register("npz")
class Npz(DataSource):
    summary = "your arrays: --data FILE.npz with x_train, y_train, x_test, y_test (+ x_val, y_val, "
    summary += "class_names)"
    takes = "file"
    suffixes = (".npz",)

    def load(self, location):
        import numpy as np

        path = Path(location)
        if not path.is_file():
            raise DataError(f"{path}: no such .npz file; pass an existing --data file")
        try:
            with np.load(path, allow_pickle=False) as z:
                keys = set(z.files)
                missing = [k for k in NPZ_KEYS if k not in keys]
                if missing:
                    raise DataError(
                        f"{path}: missing {', '.join(missing)}; an .npz data file holds "
                        f"{', '.join(NPZ_KEYS)} (and optionally {', '.join(NPZ_OPTIONAL)})"
                    )
                unknown = keys - set(NPZ_KEYS) - set(NPZ_OPTIONAL)
                if unknown:
                    raise DataError(f"{path}: unexpected keys {', '.join(sorted(unknown))}; "
                                    f"expected {', '.join(NPZ_KEYS + NPZ_OPTIONAL)}")  # fmt: skip
                if ("x_val" in keys) != ("y_val" in keys):
                    raise DataError(f"{path}: x_val and y_val come together; add or drop both")
                arrays = {k: z[k] for k in keys if k != "class_names"}
                names = None
                if "class_names" in keys:
                    raw = z["class_names"]
                    if raw.dtype.kind != "U" or raw.ndim != 1:
                        raise DataError(f"{path}: class_names must be a 1-d array of strings")
                    names = tuple(str(n) for n in raw)
        except DataError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise DataError(f"{path}: not a readable .npz file ({exc})") from None
        return _dataset(arrays, names, self.name, str(path))


@DATA_SOURCES.register("csv")
class Csv(DataSource):
    summary = "your arrays: --data FILE.csv (label, split and feature columns) or "
    summary += "--data TRAIN.csv,TEST.csv"
    takes = "file"
    suffixes = (".csv",)

    def load(self, location):
        import numpy as np

        parts = [Path(p) for p in str(location).split(",")]
        if len(parts) > 2:
            raise DataError(f"{location}: pass one CSV file, or two as TRAIN.csv,TEST.csv")
        tables = [_read_csv(p) for p in parts]
        if len(parts) == 2:
            (x_tr, y_tr, s_tr), (x_te, y_te, s_te) = tables
            if s_tr is not None or s_te is not None:
                raise DataError(f"{location}: with two files, drop the split column")
            if x_tr.shape[1] != x_te.shape[1]:
                raise DataError(f"{location}: the files have {x_tr.shape[1]} and "
                                f"{x_te.shape[1]} feature columns")  # fmt: skip
            arrays = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
        else:
            x, y, split = tables[0]
            if split is None:
                raise DataError(
                    f"{parts[0]}: no split column; add a column `split` (train, val or test) or "
                    "pass two files as --data TRAIN.csv,TEST.csv"
                )
            arrays = {}
            for name in ("train", "val", "test"):
                rows = np.flatnonzero(split == name)
                if len(rows):
                    arrays[f"x_{name}"], arrays[f"y_{name}"] = x[rows], y[rows]
            for name in ("train", "test"):
                if f"x_{name}" not in arrays:
                    raise DataError(f"{parts[0]}: no row has split = {name}")
        return _dataset(arrays, None, self.name, str(location))


def _read_csv(path: Path) -> tuple[Any, Any, Any]:
    """(features float64 (n, d), labels int64 (n,), split (n,) str or None) of one CSV file."""
    import csv

    import numpy as np

    if not path.is_file():
        raise DataError(f"{path}: no such CSV file; pass an existing --data file")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: unreadable CSV ({exc})") from None
    if not header or len(header) < 2:
        raise DataError(f"{path}: needs a header row with a label column and feature columns")
    names = [h.strip().lower() for h in header]
    label = names.index("label") if "label" in names else 0
    split = names.index("split") if "split" in names else None
    features = [i for i in range(len(names)) if i not in (label, split)]
    if not features:
        raise DataError(f"{path}: no feature columns besides the label and split")

    def column(cols: Any, dtype: Any) -> Any:
        return np.loadtxt(path, delimiter=",", skiprows=1, usecols=cols, dtype=dtype, ndmin=1)

    try:
        x = column(features, np.float64).reshape(-1, len(features))
        y_text = column([label], str)
        s = column([split], str) if split is not None else None
    except (ValueError, IndexError) as exc:
        raise DataError(f"{path}: not a CSV of numbers with {len(header)} columns per row "
                        f"({str(exc).splitlines()[0]})") from None  # fmt: skip
    try:
        y = np.array([int(v) for v in y_text], dtype=np.int64)
    except ValueError:
        bad = next(v for v in y_text if not v.strip().lstrip("-").isdigit())
        raise DataError(
            f"{path}: the label column {header[label]!r} holds {str(bad)!r}; labels must be "
            "integers 0..C-1"
        ) from None
    if s is not None:
        s = np.char.strip(np.char.lower(s.astype(str)))
        bad = sorted(set(s.tolist()) - {"train", "val", "test"})
        if bad:
            raise DataError(f"{path}: split column holds {bad[0]!r}; expected train, val or test")
    return x, y, s
