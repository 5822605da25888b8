"""A small name -> factory registry shared by restorers, captioners and text encoders.

Adding an implementation is one small file that decorates its factory with ``@REGISTRY.register("name")``; the
registry's ``modules`` tuple lists the modules that hold built-in entries so they are imported on first lookup
(keeping ``import mural_inpaint`` cheap).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mural_inpaint.errors import InputError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    summary: str


class Registry(Generic[T]):
    """Maps a stable, user-facing name to a factory ``(**options) -> T``."""

    def __init__(self, kind: str, modules: tuple[str, ...] = ()):
        self.kind = kind
        self._modules = modules
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    def register(self, name: str, summary: str = "") -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries and self._entries[name].factory is not factory:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            first_doc_line = next(iter((factory.__doc__ or "").strip().splitlines()), "")
            self._entries[name] = Entry(name, factory, summary or first_doc_line)
            return factory

        return decorate

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)

    def names(self) -> list[str]:
        self._load_builtins()
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        self._load_builtins()
        return list(self._entries.values())

    def create(self, name: str, **options) -> T:
        self._load_builtins()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "none"
            raise InputError(f"Unknown {self.kind} {name!r}. Available: {known}.")
        return self._entries[name].factory(**options)
