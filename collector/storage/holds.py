"""Legal holds (table ``legal_holds``, revision 0013): the repository of :class:`collector.holds.HoldService`.

One row per held agent; the purge reads :meth:`HoldRepo.held` and keeps everything of those agents.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import delete, select

from collector.storage.connections import Connections
from collector.storage.tables import legal_holds


class HoldRepo(ABC):
    @abstractmethod
    def put(self, agent_id: str, reason: str, by: str, now: float) -> bool:
        """Hold the agent's data (a hold in place gets the new reason); True when it was not held before."""

    @abstractmethod
    def lift(self, agent_id: str) -> bool:
        """End the agent's hold; False when there was none."""

    @abstractmethod
    def get(self, agent_id: str) -> dict[str, Any] | None:
        """``agent_id``, ``reason``, ``set_by``, ``set_at`` of the agent's hold, or None."""

    @abstractmethod
    def all(self) -> list[dict[str, Any]]:
        """Every hold, by agent_id."""

    @abstractmethod
    def held(self) -> frozenset[str]:
        """The agents under a hold (what the purge spares)."""


class SqlHoldRepo(HoldRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db  # the table comes with the schema (revision 0013)

    def put(self, agent_id: str, reason: str, by: str, now: float) -> bool:
        with self.db._write() as conn:
            had = conn.execute(select(legal_holds.c.agent_id).where(legal_holds.c.agent_id == agent_id)).first()
            self.db._upsert(conn, legal_holds, {"agent_id": agent_id},
                            {"reason": reason, "set_by": by, "set_at": now})
        return had is None

    def lift(self, agent_id: str) -> bool:
        with self.db._write() as conn:
            gone = conn.execute(delete(legal_holds).where(legal_holds.c.agent_id == agent_id)).rowcount
        return bool(gone)

    def get(self, agent_id: str) -> dict[str, Any] | None:
        with self.db._read() as conn:
            row = conn.execute(select(legal_holds).where(legal_holds.c.agent_id == agent_id)).first()
        return None if row is None else dict(row._mapping)

    def all(self) -> list[dict[str, Any]]:
        with self.db._read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(legal_holds).order_by(legal_holds.c.agent_id))]

    def held(self) -> frozenset[str]:
        with self.db._read() as conn:
            return frozenset(str(r[0]) for r in conn.execute(select(legal_holds.c.agent_id)))
