"""Sealed screenshot envelopes (table ``screenshots``): the repository of
:class:`collector.screenshots.ScreenshotService`.

A blob is identified by (agent_id, blob_id). :meth:`ScreenshotRepo.add` checks the agent's quotas and
stores the envelope in one write transaction that first locks the agent's row (PostgreSQL
``FOR UPDATE``; SQLite's write lock already serialises), so concurrent uploads of one agent cannot
overrun a quota.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from collector.storage.connections import Connections
from collector.storage.tables import agents, screenshots


@dataclass(frozen=True)
class BlobQuota:
    """Per agent: screenshots and bytes since ``day_start`` (the local day's first second), and screenshots
    in any 60 seconds; 0 is no limit."""

    day_start: float
    count_per_day: int = 0
    bytes_per_day: int = 0
    rate_per_min: int = 0


class ScreenshotRepo(ABC):
    @abstractmethod
    def add(self, agent_id: str, blob_id: str, sealed_at: str, size: int, envelope: str, now: float,
            quota: BlobQuota) -> tuple[str, str] | None:
        """Store a sealed envelope (``size``: the PNG's bytes): None when stored, else (outcome, why) with
        outcome ``duplicate`` (this agent stored that blob id already), ``blob_quota`` or ``blob_rate``."""

    @abstractmethod
    def envelope(self, agent_id: str, blob_id: str) -> str | None:
        """The stored sealed envelope, or None."""

    @abstractmethod
    def purge(self, before_ts: float, held: Collection[str] = ()) -> int:
        """Retention: drop screenshots received before ``before_ts``, none of an agent in ``held``; returns
        how many."""


class SqlScreenshotRepo(ScreenshotRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db  # the table comes with the schema (revision 0003)

    def add(self, agent_id: str, blob_id: str, sealed_at: str, size: int, envelope: str, now: float,
            quota: BlobQuota) -> tuple[str, str] | None:
        try:
            with self.db._write() as conn:
                refused = _refusal(conn, agent_id, blob_id, size, now, quota)
                if refused is None:
                    conn.execute(insert(screenshots).values(
                        agent_id=agent_id, blob_id=blob_id, sealed_at=sealed_at, received_at=now, size=size,
                        envelope=envelope))
                return refused
        except IntegrityError:  # the same blob, stored by a concurrent upload
            return ("duplicate", "")

    def envelope(self, agent_id: str, blob_id: str) -> str | None:
        with self.db._read() as conn:
            row = conn.execute(select(screenshots.c.envelope).where(
                and_(screenshots.c.agent_id == agent_id, screenshots.c.blob_id == blob_id))).first()
        return None if row is None else str(row[0])

    def purge(self, before_ts: float, held: Collection[str] = ()) -> int:
        old = screenshots.c.received_at < before_ts
        where = and_(old, screenshots.c.agent_id.not_in(sorted(set(held)))) if held else old
        with self.db._write() as conn:
            gone = conn.execute(screenshots.delete().where(where)).rowcount
        return int(gone or 0)


def _refusal(conn: Connection, agent_id: str, blob_id: str, size: int, now: float,
             quota: BlobQuota) -> tuple[str, str] | None:
    mine = screenshots.c.agent_id == agent_id
    conn.execute(select(agents.c.agent_id).where(agents.c.agent_id == agent_id).with_for_update()).first()
    if conn.execute(select(screenshots.c.id).where(and_(mine, screenshots.c.blob_id == blob_id))).first():
        return ("duplicate", "")
    count, stored = conn.execute(select(func.count(), func.coalesce(func.sum(screenshots.c.size), 0)).where(
        and_(mine, screenshots.c.received_at >= quota.day_start))).one()
    max_count, max_bytes = quota.count_per_day, quota.bytes_per_day
    if max_count and int(count) + 1 > max_count:
        return ("blob_quota", f"{count} screenshots today already (blob_quota_count_per_day {max_count})")
    if max_bytes and int(stored) + size > max_bytes:
        return ("blob_quota", f"{int(stored)} + {size} bytes today exceed blob_quota_bytes_per_day {max_bytes}")
    rate = quota.rate_per_min
    if rate:
        recent = conn.execute(select(func.count()).where(
            and_(mine, screenshots.c.received_at > now - 60.0))).scalar_one()
        if int(recent) >= rate:
            return ("blob_rate", f"{recent} screenshots in the last minute (blob_rate_per_min {rate})")
    return None
