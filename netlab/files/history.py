"""A run's per-epoch history as files: history.csv and history.jsonl, written and read back."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ..errors import DataError

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


def read_history(path: str | Path) -> list[dict[str, float]]:
    """A history.csv back as records; DataError when it is not one netlab wrote."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            required = [k for k in HISTORY_FIELDS if k != "lr"]  # lr: since netlab 0.2
            if reader.fieldnames is None or not set(required) <= set(reader.fieldnames):
                raise DataError(
                    f"{path}: not a netlab history (expected columns {', '.join(required)})"
                )
            return [
                {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if k}
                for row in reader
            ]
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: unreadable history ({exc})") from None
