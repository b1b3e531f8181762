"""Registries: the one place each kind of pluggable idea (activation, optimizer, data source) is
listed. An entry is registered by name where it is defined; everything that needs the set of names
(CLI choices and help, config validation, the scikit-learn estimator, ONNX export, the CUDA plan,
the tests) asks the registry. An entry with settings declares them as `Setting`s (name, default,
range, help); the config schema, TrainingConfig/ModelConfig/DataConfig, train's flags, checkpoints
and docs/config.md are derived from those declarations. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    """One setting an entry reads: a config field of its own (same name, same meaning for every
    entry that declares it) with a default, a range and a one-line help.

    The type follows the default: bool (true or false), int or float within [lo, hi] (an end is
    excluded when lo_open / hi_open). Entries that share a setting (adam's and adamw's beta1)
    declare it each; its config default is the declared one, or None ("the entry's own") when
    their defaults differ, and the entry in use then gets its own.
    """

    name: str
    default: bool | int | float
    help: str
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def check(self, value: Any) -> Any:
        """The normalized value (a float for a float setting), or None when it is invalid."""
        if isinstance(self.default, bool):
            return value if isinstance(value, bool) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if isinstance(self.default, int) and not isinstance(value, int):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        lo_bad = value < self.lo or (self.lo_open and value == self.lo)
        if lo_bad or value > self.hi or (self.hi_open and value == self.hi):
            return None
        return value if isinstance(self.default, int) else float(value)

    def expected(self) -> str:
        """What a valid value is: 'a float in [0, 1)', 'an integer >= 1', 'true or false'."""
        if isinstance(self.default, bool):
            return "true or false"
        kind = "an integer" if isinstance(self.default, int) else "a float"
        if math.isfinite(self.lo) and math.isfinite(self.hi):
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            return f"{kind} in {left}{self.lo:g}, {self.hi:g}{right}"
        if math.isfinite(self.lo):
            return f"{kind} {'>' if self.lo_open else '>='} {self.lo:g}"
        if math.isfinite(self.hi):
            return f"{kind} {'<' if self.hi_open else '<='} {self.hi:g}"
        return kind


class Registry(Generic[T]):
    """Named entries of one kind, in registration order.

    Usage:
        ACTIVATIONS = Registry("activation")

        @ACTIVATIONS.register("tanh")
        class Tanh(ActivationDef): ...

    `get(name)` raises ConfigError naming the known entries, so an unknown name is an error
    everywhere and never falls back to a default.
    """

    def __init__(self, kind: str, instances: bool = False) -> None:
        """instances=True: a decorated class is registered as an instance of it (stateless
        definitions such as activations); otherwise the decorated object itself (a class that
        is a factory, such as an optimizer)."""
        self.kind = kind
        self.instances = instances
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under `name`."""

        def add(obj: T) -> T:
            self.add(name, obj() if self.instances and isinstance(obj, type) else obj)
            return obj

        return add

    def add(self, name: str, entry: T) -> T:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"a {self.kind} name must be a non-empty string; got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if hasattr(entry, "name"):
            try:
                entry.name = name  # entries know their own name
            except AttributeError:  # frozen dataclasses carry it already
                pass
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Unregister `name` (tests that register throwaway entries clean up with this)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ConfigError(
                f"unknown {self.kind} {name!r}; expected one of {self.choices()}"
            ) from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def choices(self) -> str:
        """'a, b or c': the names as a help text or an error message lists them."""
        names = list(self._entries)
        if len(names) <= 1:
            return "".join(names)
        return ", ".join(names[:-1]) + " or " + names[-1]

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(list(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
