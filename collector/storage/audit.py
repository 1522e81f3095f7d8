"""The audit log (table ``audit``): the repository :class:`collector.access.AccessService` writes and searches.

A record says who (``actor``) did or tried what (``action``) to what (``target``, masked by the
caller), when, from where, whether it was allowed, and whose data it showed (``agent_id``: one
record per agent shown). Records are only ever added; retention never removes them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, or_, select

from collector.storage import tables as t
from collector.storage.connections import Connections

MAX_ROWS = 100_000  # the most records one search returns


@dataclass(frozen=True)
class AuditRecord:
    at: float
    actor: str
    action: str
    target: str
    allowed: bool
    remote: str | None = None
    agent_id: str | None = None


class AuditRepo(ABC):
    @abstractmethod
    def add(self, records: list[AuditRecord]) -> None:
        """Write the records in one transaction (one batched insert)."""

    @abstractmethod
    def search(self, actor: str = "", action: str = "", target: str = "", allowed: bool | None = None,
               since: float | None = None, until: float | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
        """Records, newest first. ``actor``, ``action`` match a part of the field and ``target`` a part of
        the target or of the agent shown, case-insensitively; ``since`` <= at < ``until``; at most
        ``limit`` (1 to :data:`MAX_ROWS`)."""

    @abstractmethod
    def of_agent(self, agent_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The records that showed (or refused to show) this agent's data, newest first."""


class SqlAuditRepo(AuditRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def add(self, records: list[AuditRecord]) -> None:
        if not records:
            return
        rows = [{"at": r.at, "actor": r.actor, "action": r.action, "target": r.target, "allowed": r.allowed,
                 "remote": r.remote, "agent_id": r.agent_id} for r in records]
        with self.db._write() as conn:
            conn.execute(insert(t.audit), rows)

    def search(self, actor: str = "", action: str = "", target: str = "", allowed: bool | None = None,
               since: float | None = None, until: float | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
        a = t.audit
        q = select(a).order_by(a.c.id.desc()).limit(max(1, min(limit, MAX_ROWS)))
        for column, text in ((a.c.actor, actor), (a.c.action, action)):
            if text:
                q = q.where(func.lower(column).contains(text.lower(), autoescape=True))
        if target:  # what was read, or whose data it showed
            q = q.where(or_(func.lower(a.c.target).contains(target.lower(), autoescape=True),
                            func.lower(a.c.agent_id).contains(target.lower(), autoescape=True)))
        if allowed is not None:
            q = q.where(a.c.allowed.is_(allowed))
        if since is not None:
            q = q.where(a.c.at >= since)
        if until is not None:
            q = q.where(a.c.at < until)
        with self.db._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def of_agent(self, agent_id: str, limit: int = 200) -> list[dict[str, Any]]:
        a = t.audit
        q = select(a).where(a.c.agent_id == agent_id).order_by(a.c.id.desc()).limit(limit)
        with self.db._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]
