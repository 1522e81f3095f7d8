"""The policy's versions in the database (table ``policy_versions``, revision 0009).

The newest row is the policy in force; every row is a version that was handed out. A save inserts
the row ``expected + 1`` and fails when that key exists: two saves based on one version cannot both
land, whichever collector process they reach (:class:`collector.errors.Conflict` for the loser).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from collector.errors import Conflict
from collector.storage import tables as t
from collector.storage.connections import Connections


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    body: dict[str, Any] | None  # None for a version issued before 0009 whose text was not kept
    hash: str
    saved_at: float


class PolicyRepo(ABC):
    @abstractmethod
    def newest_version(self) -> int | None:
        """One cheap query: the version in force (None while nothing was ever saved)."""

    @abstractmethod
    def all(self) -> list[PolicyVersion]:
        """Every version, oldest first."""

    @abstractmethod
    def save(self, expected: int, rows: list[PolicyVersion], saved_by: str | None,
             notify: Callable[..., None] | None = None) -> None:
        """Insert ``rows`` (the new version, and the base version when it was never stored) provided the
        version in force is still ``expected``; :class:`Conflict` otherwise. ``notify(conn)`` runs in the
        same transaction (PostgreSQL's NOTIFY is delivered when it commits)."""


class SqlPolicyRepo(PolicyRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def newest_version(self) -> int | None:
        with self.db._read() as conn:
            found = conn.execute(select(func.max(t.policy_versions.c.version))).scalar()
        return None if found is None else int(found)

    def all(self) -> list[PolicyVersion]:
        pv = t.policy_versions
        with self.db._read() as conn:
            rows = conn.execute(select(pv.c.version, pv.c.body, pv.c.hash, pv.c.saved_at)
                                .order_by(pv.c.version)).all()
        out = []
        for version, body, digest, at in rows:
            data = orjson.loads(body)
            out.append(PolicyVersion(int(version), data if isinstance(data, dict) else None, str(digest), float(at)))
        return out

    def save(self, expected: int, rows: list[PolicyVersion], saved_by: str | None,
             notify: Callable[..., None] | None = None) -> None:
        try:
            with self.db._write() as conn:
                newest = _newest(conn)
                if (newest or 1) != expected:
                    raise Conflict(_conflict_message(expected, newest or 1))
                for row in rows:
                    if newest is not None and row.version <= newest:
                        continue
                    conn.execute(insert(t.policy_versions).values(
                        version=row.version, body=orjson.dumps(row.body).decode(), hash=row.hash,
                        saved_at=row.saved_at, saved_by=saved_by))
                if notify is not None:
                    notify(conn)
        except IntegrityError as exc:  # another process inserted the same version between our read and insert
            raise Conflict(_conflict_message(expected, self.newest_version() or expected + 1)) from exc


def _newest(conn: Connection) -> int | None:
    found = conn.execute(select(func.max(t.policy_versions.c.version))).scalar()
    return None if found is None else int(found)


def _conflict_message(expected: int, newest: int) -> str:
    return (f"the policy was changed meanwhile: you edited version {expected}, but version {newest} is now in "
            "force; reload it, apply your change again and save")
