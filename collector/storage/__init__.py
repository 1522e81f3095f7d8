"""Storage backends, chosen by database URL scheme from one registry.

``sqlite:///PATH`` -> :class:`~collector.storage.sqlite.SqliteStore` (embedded default);
``postgresql://`` or ``postgresql+psycopg://`` -> :class:`~collector.storage.postgres.PostgresStore`
(psycopg 3; several collector processes may share one database).
"""

from __future__ import annotations

from collections.abc import Callable

from collector.errors import ConfigError
from collector.storage.base import BatchWrite, IngestOutcome, QuarantinedEvent, Store, StoredEvent

BACKENDS: dict[str, Callable[[str], Store]] = {}


def register_backend(scheme: str, factory: Callable[[str], Store]) -> None:
    BACKENDS[scheme] = factory


def _register_builtins() -> None:
    """The built-in backends, registered like any extension's (which may replace them)."""
    from collector.storage.postgres import PostgresStore
    from collector.storage.sqlite import SqliteStore

    BACKENDS.setdefault("sqlite", SqliteStore)
    BACKENDS.setdefault("postgresql", PostgresStore)


def open_store(url: str) -> Store:
    _register_builtins()
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise ConfigError(f"unsupported database URL scheme {scheme!r} (known: {', '.join(sorted(BACKENDS))})")
    return factory(url)


__all__ = ["BACKENDS", "BatchWrite", "IngestOutcome", "QuarantinedEvent", "Store", "StoredEvent", "open_store",
           "register_backend"]
