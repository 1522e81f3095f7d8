"""Daily reports and reviewer labels (tables ``reports``, ``labels``): the repository of
:class:`collector.reports.ReportService`.

A report is stored once per day as one JSON body (its JSON, HTML and CSV forms); building it again
replaces it. One label per agent-day: a new label replaces the old one, with the labelled finding's
snapshot and pattern key (what label feedback matches later findings on).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import and_, insert, select

from collector.storage import tables as t
from collector.storage.connections import Connections


class ReportRepo(ABC):
    @abstractmethod
    def save(self, day: str, body: str, now: float) -> None:
        """Store (or replace) the day's report."""

    @abstractmethod
    def load(self, day: str) -> str | None:
        """The day's stored report body, or None."""

    @abstractmethod
    def save_label(self, agent_id: str, day: str, label: str, reviewer: str, note: str, now: float,
                   snapshot: str | None = None, pattern: str | None = None) -> None:
        """One reviewer label per agent-day (a new one replaces it); ``snapshot``: the labelled finding
        as JSON, ``pattern``: its pattern key."""

    @abstractmethod
    def labels(self) -> list[dict[str, Any]]:
        """Every label, oldest day first (rows: agent_id, day, label, reviewer, note, at, snapshot, pattern)."""


class SqlReportRepo(ReportRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def save(self, day: str, body: str, now: float) -> None:
        with self.db._write() as conn:
            self.db._upsert(conn, t.reports, {"day": day}, {"body": body, "created_at": now})

    def load(self, day: str) -> str | None:
        with self.db._read() as conn:
            row = conn.execute(select(t.reports.c.body).where(t.reports.c.day == day)).first()
        return None if row is None else str(row[0])

    def save_label(self, agent_id: str, day: str, label: str, reviewer: str, note: str, now: float,
                   snapshot: str | None = None, pattern: str | None = None) -> None:
        with self.db._write() as conn:
            conn.execute(t.labels.delete().where(and_(t.labels.c.agent_id == agent_id, t.labels.c.day == day)))
            conn.execute(insert(t.labels).values(agent_id=agent_id, day=day, label=label, reviewer=reviewer,
                                                 note=note, at=now, snapshot=snapshot, pattern=pattern))

    def labels(self) -> list[dict[str, Any]]:
        with self.db._read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.labels).order_by(t.labels.c.day))]
