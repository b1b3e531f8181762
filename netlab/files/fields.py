"""Untrusted structured data: JSON and TOML parsed within size and nesting limits, and typed field
checks whose errors name the field, so each file reader can say what is wrong and where."""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

MAX_DEPTH = 32  # netlab's own files nest at most 5 levels (a grid of hidden-layer lists)


class Invalid(ValueError):
    """A value does not validate; `field` is its dotted name ("" for the whole document)."""

    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"{field} {what}" if field else what)
        self.field = field


def depth(value: Any) -> int:
    """How deep lists and dicts nest in `value` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def _bounded(value: Any, max_depth: int) -> Any:
    if depth(value) > max_depth:
        raise Invalid("", f"is nested more than {max_depth} levels deep")
    return value


def parse_json(data: bytes | str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON document of at most `max_bytes` and `max_depth` levels; Invalid otherwise.

    NaN and Infinity tokens parse (Python writes them); callers check finiteness per field.
    """
    if len(data) > max_bytes:
        raise Invalid("", f"is {len(data)} bytes; the limit is {max_bytes}")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text)
    except RecursionError:  # deeper than the interpreter's stack: certainly too deep
        raise Invalid("", f"is nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # also UnicodeDecodeError, and integers of > 4300 digits
        raise Invalid("", f"is not valid JSON ({str(exc)[:80]})") from None
    return _bounded(value, max_depth)


def parse_toml(text: str, max_bytes: int, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """A TOML document of at most `max_bytes` characters and `max_depth` levels; Invalid
    (a ValueError) otherwise, its message saying which limit or which syntax error."""
    if len(text) > max_bytes:
        raise Invalid("", f"is {len(text)} characters; the limit is {max_bytes}")
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise Invalid("", f"is nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # TOMLDecodeError, and integers of > 4300 digits
        raise Invalid("", f"is not valid TOML ({str(exc)[:120]})") from None
    return _bounded(value, max_depth)


def integer(value: Any, field: str, lo: int, hi: float = math.inf) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid(field, f"must be an integer in [{lo}, {hi}]; got {_show(value)}")
    return value


def number(
    value: Any, field: str, lo: float = -math.inf, hi: float = math.inf, *, nan: bool = False
) -> float:
    """A float (or int) in [lo, hi], never a bool; NaN only where `nan` allows it."""
    if not isinstance(value, bool) and isinstance(value, int | float):
        v = (
            value
            if isinstance(value, float)
            else float(value)
            if abs(value) < 2**1023
            else math.inf
        )
        if (nan and math.isnan(v)) or (lo <= v <= hi and math.isfinite(v)):
            return v
    allowed = " or NaN" if nan else ""
    raise Invalid(
        field, f"must be a finite number in [{lo:g}, {hi:g}]{allowed}; got {_show(value)}"
    )


def numbers(value: Any, field: str, count: int, lo: float, hi: float) -> list[float]:
    if not isinstance(value, list) or len(value) != count:
        raise Invalid(field, f"must be a list of {count} numbers; got {_show(value)}")
    return [number(v, f"{field}[{i}]", lo, hi) for i, v in enumerate(value)]


def text(value: Any, field: str, choices: tuple[str, ...] | None = None, limit: int = 4096) -> str:
    if choices is not None and value not in choices:
        raise Invalid(field, f"must be one of {', '.join(map(repr, choices))}; got {_show(value)}")
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(field, f"must be a string of at most {limit} characters; got {_show(value)}")
    return value


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(field, f"must be true or false; got {_show(value)}")
    return value


def table(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(field, f"must be a table (JSON object); got {_show(value)}")
    return value


def _show(value: Any) -> str:
    """A value for an error message: its repr, cut to 60 characters."""
    try:
        shown = repr(value)
    except (ValueError, RecursionError):  # an int of > 4300 digits, a deep structure
        shown = f"a {type(value).__name__}"
    return shown if len(shown) <= 60 else shown[:57] + "..."
