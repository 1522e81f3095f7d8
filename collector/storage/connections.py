"""What a SQL repository needs from its backend: read and write connections and an upsert.

:class:`collector.storage.sql.SqlStore` provides them; every area's SQL repository
(``collector/storage/<area>.py``) is written against this protocol rather than against the store
class, so that the repositories and the store that hands them out import nothing of each other.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy import Connection, Table


class Connections(Protocol):
    is_sqlite: bool

    def _read(self) -> AbstractContextManager[Connection]:
        """A connection for reading (SQLite: apart from the writer)."""

    def _write(self) -> AbstractContextManager[Connection]:
        """A connection inside one write transaction, committed on a clean exit."""

    def _upsert(self, conn: Connection, table: Table, key: dict[str, Any], values: dict[str, Any],
                on_conflict: dict[str, Any] | None = None) -> None:
        """Insert a row, or update it (``on_conflict``, default ``values``) when its key exists."""
