"""Detectors registered by name.

Built-in members register themselves with :func:`register` exactly as an extension would; the
built-in modules are listed in :data:`BUILTIN_MODULES` and imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from detectors.base import VIEWS, Detector
from detectors.errors import InvalidInput, UnknownDetector

BUILTIN_MODULES = ("detectors.models", "detectors.rules")
_REGISTRY: dict[str, type[Detector]] = {}
_loaded = False
D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    """Class decorator: make a :class:`Detector` subclass available under its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Detector)) or not cls.name:
        raise InvalidInput("only Detector subclasses with a name can be registered")
    if cls.view not in VIEWS:
        raise InvalidInput(f"detector {cls.name!r}: view must be one of {', '.join(VIEWS)}")
    other = _REGISTRY.get(cls.name)
    if other is not None and other is not cls:
        raise InvalidInput(f"a detector named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a detector from the registry (for extensions being unloaded, and tests)."""
    if _REGISTRY.pop(name, None) is None:
        raise UnknownDetector(name, sorted(_REGISTRY))


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


def names() -> list[str]:
    """Names of every registered detector, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> type[Detector]:
    """The detector class registered under ``name``."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownDetector(name, sorted(_REGISTRY)) from None


def create(name: str, **options: Any) -> Detector:
    """A new, unfitted detector; ``options`` go to its constructor."""
    cls = get(name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise InvalidInput(f"detector {name!r}: bad options ({exc})") from exc
