"""A run's per-epoch history as files: history.csv and history.jsonl, written and read back."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from ..errors import DataError
from .fields import Invalid, number, table

HISTORY_FIELDS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
)


def history_jsonl(history: list[dict[str, float]]) -> str:
    """One JSON object per epoch with the HISTORY_FIELDS keys in order; NaN and Inf become null
    (JSON has no NaN), so every line parses with any JSON reader."""
    lines = []
    for record in history:
        obj = {}
        for key in HISTORY_FIELDS:
            value = record.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            obj[key] = value
        lines.append(json.dumps(obj))
    return "".join(line + "\n" for line in lines)


def history_csv(history: list[dict[str, float]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(HISTORY_FIELDS), lineterminator="\n")
    writer.writeheader()
    for record in history:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in record.items()})
    return buf.getvalue()


MAX_ROWS = 1_000_000  # training.epochs' upper bound
# column: (lowest, highest, NaN allowed: the validation columns of a run without a validation split)
RANGES = {
    "train_loss": (0.0, math.inf, False),
    "train_accuracy": (0.0, 1.0, False),
    "val_loss": (0.0, math.inf, True),
    "val_accuracy": (0.0, 1.0, True),
    "lr": (0.0, math.inf, False),
    "seconds": (0.0, math.inf, False),
}


def check_history(rows: Any, field: str = "history", lr: bool = True) -> list[dict[str, float]]:
    """History records by the schema: exactly the HISTORY_FIELDS keys (`lr` optional when `lr`
    is False: histories of netlab 0.1), epochs 1, 2, ... in order, every value a finite number in
    its column's range (validation columns may be NaN). Invalid names the row and column."""
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        raise Invalid(field, f"must be a list of at most {MAX_ROWS} epoch records")
    return [check_record(row, f"{field}[{i}]", i + 1, lr) for i, row in enumerate(rows)]


def check_record(row: Any, where: str, epoch: int, lr: bool = True) -> dict[str, float]:
    table(row, where)
    columns = set(HISTORY_FIELDS) - ({"lr"} if not lr and "lr" not in row else set())
    if set(row) != columns:
        raise Invalid(where, f"must have exactly the keys {', '.join(sorted(columns))}")
    got = row["epoch"]
    if isinstance(got, bool) or not isinstance(got, int) or got != epoch:
        raise Invalid(
            f"{where}.epoch", f"must be {epoch} (one record per epoch, from 1); got {got!r:.40}"
        )
    record: dict[str, float] = {"epoch": epoch}
    for key in HISTORY_FIELDS[1:]:
        if key in row:
            lo, hi, nan = RANGES[key]
            record[key] = number(row[key], f"{where}.{key}", lo, hi, nan=nan)
    return record


def _value(key: str, text: Any) -> Any:
    """A CSV field as the number it spells (or the text itself, for check_record to refuse)."""
    try:
        return int(text) if key == "epoch" else float(text)
    except (TypeError, ValueError):
        return text


def read_history(path: str | Path) -> list[dict[str, float]]:
    """A history.csv back as records, checked like a checkpoint's history (check_history);
    DataError naming the file, row and column when it is not one netlab wrote."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            columns = set(header or ())
            if len(columns) != len(header or ()) or columns not in (
                {*HISTORY_FIELDS},
                {*HISTORY_FIELDS} - {"lr"},
            ):
                expected = ", ".join(HISTORY_FIELDS)
                raise DataError(f"{path}: not a netlab history (expected the columns {expected})")
            rows = []
            for line in reader:
                if len(rows) == MAX_ROWS:
                    raise Invalid("", f"has more than {MAX_ROWS} rows")
                if len(line) != len(header):
                    raise Invalid(
                        f"history[{len(rows)}]", f"has {len(line)} fields, expected {len(header)}"
                    )
                rows.append({k: _value(k, v) for k, v in zip(header, line, strict=True)})
        return check_history(rows, lr="lr" in header)
    except Invalid as exc:
        raise DataError(f"{path}: {exc}; pass a history.csv written by netlab") from None
    except csv.Error as exc:  # a field over the csv module's limit (131,072 characters), a NUL
        raise DataError(f"{path}: not a netlab history ({exc})") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable history ({exc})") from None
