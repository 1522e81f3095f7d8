"""Storage backends, chosen by database URL scheme from one registry."""

from __future__ import annotations

from collections.abc import Callable

from collector.errors import ConfigError
from collector.storage.base import BatchWrite, IngestOutcome, QuarantinedEvent, Store, StoredEvent

BACKENDS: dict[str, Callable[[str], Store]] = {}


def register_backend(scheme: str, factory: Callable[[str], Store]) -> None:
    BACKENDS[scheme] = factory


def open_store(url: str) -> Store:
    from collector.storage import sql  # noqa: F401  (registers the built-in backends)

    scheme = url.split(":", 1)[0].split("+", 1)[0]
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise ConfigError(f"unsupported database URL scheme {scheme!r} (known: {', '.join(sorted(BACKENDS))})")
    return factory(url)


__all__ = ["BACKENDS", "BatchWrite", "IngestOutcome", "QuarantinedEvent", "Store", "StoredEvent", "open_store",
           "register_backend"]
