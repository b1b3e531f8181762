"""Registries: the one place each kind of pluggable idea (activation, optimizer, data source) is
listed. An entry is registered by name where it is defined; everything that needs the set of names
(CLI choices and help, config validation, the scikit-learn estimator, ONNX export, the CUDA plan,
the tests) asks the registry. Importing this module imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


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
