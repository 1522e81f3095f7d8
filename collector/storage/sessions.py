"""Web sessions on the server (rows of the shared ``kv`` table): the repository of :mod:`collector.web.sessions`.

A session is one row whose key is its caller-made name (``sess:`` and a hash of the cookie's id)
and whose value is the session as JSON; rows in ``kv`` let several collector processes accept each
other's sessions without a table of their own. What a session holds, and when it ends, is the
session manager's; this module keeps, finds and drops the rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from sqlalchemy import delete, insert, select, update

from collector.storage import tables as t
from collector.storage.connections import Connections


class SessionRepo(ABC):
    @abstractmethod
    def add(self, key: str, body: str) -> None: ...

    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @abstractmethod
    def replace(self, key: str, body: str) -> None:
        """Change a session's row (nothing when it was dropped meanwhile)."""

    @abstractmethod
    def with_prefix(self, prefix: str) -> list[tuple[str, str]]:
        """(key, body) of every session whose key starts with ``prefix``."""

    @abstractmethod
    def drop(self, keys: list[str]) -> None: ...


class SqlSessionRepo(SessionRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def add(self, key: str, body: str) -> None:
        with self.db._write() as conn:
            conn.execute(insert(t.kv).values(key=key, value=body))

    def get(self, key: str) -> str | None:
        with self.db._read() as conn:
            found = conn.execute(select(t.kv.c.value).where(t.kv.c.key == key)).scalar()
        return None if found is None else str(found)

    def replace(self, key: str, body: str) -> None:
        with self.db._write() as conn:
            conn.execute(update(t.kv).where(t.kv.c.key == key).values(value=body))

    def with_prefix(self, prefix: str) -> list[tuple[str, str]]:
        with self.db._read() as conn:
            rows = conn.execute(select(t.kv.c.key, t.kv.c.value).where(t.kv.c.key.startswith(prefix))).all()
        return [(str(k), str(v)) for k, v in rows]

    def drop(self, keys: list[str]) -> None:
        if keys:
            with self.db._write() as conn:
                conn.execute(delete(t.kv).where(t.kv.c.key.in_(keys)))
