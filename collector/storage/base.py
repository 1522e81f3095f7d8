"""The storage interface every backend implements (SQLite embedded, PostgreSQL scale-out)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    ts: str
    ts_ms: int
    day: str
    kind: str
    data: str  # masked JSON of the whole event
    event: dict[str, Any]  # the masked event itself (for rollups)
    customer: Any = None  # a page's customer, keyed before masking (detectors.need_to_know); never stored


@dataclass(frozen=True)
class QuarantinedEvent:
    seq: int | None
    reason: str  # masked
    raw: str  # masked


@dataclass
class BatchWrite:
    agent_id: str
    batch_seq: int
    batch_hash: str
    prev_batch_hash: str
    events: list[StoredEvent]
    quarantined: list[QuarantinedEvent]
    received_at: float
    findings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # found before the write


@dataclass
class IngestOutcome:
    status: str  # stored | duplicate | conflict
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    integrity: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


RollupHook = Callable[[Any, str, list[StoredEvent], list[tuple[str, dict[str, Any]]]],
                      "list[tuple[StoredEvent, str]] | None"]
"""Called inside the ingest transaction: (store-specific rollup access, agent_id, new events, integrity).

It may return the events it could not fold in, each with a reason: the store then quarantines them
instead of keeping them (same transaction)."""


class Store(ABC):
    """Everything the collector keeps. Implementations must make ``ingest`` one atomic transaction."""

    @abstractmethod
    def create_schema(self) -> None:
        """Create a new database at the newest schema; refuse one that needs ``migrate`` first."""

    @abstractmethod
    def migrate(self) -> tuple[str | None, str]:
        """Upgrade the schema in place; returns (revision before, revision after)."""

    @abstractmethod
    def close(self) -> None: ...

    # enrollment and agents
    @abstractmethod
    def add_enroll_token(self, token_hash: str, team: str, role: str, shift: tuple[str, str] | None,
                         created_at: float, expires_at: float, name: str | None = None) -> None: ...

    @abstractmethod
    def enroll_agent(self, token_hash: str, agent: dict[str, Any], now: float) -> dict[str, Any]: ...

    @abstractmethod
    def id_key_taken(self, agent_id: str) -> bool:
        """Is ``agent_id`` or a look-alike of it (same :func:`collector.agent_ids.id_key`) enrolled?"""

    @abstractmethod
    def get_agent(self, agent_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def list_agents(self, teams: list[str] | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def revoke_agent(self, agent_id: str, now: float) -> bool: ...

    # ingest
    @abstractmethod
    def last_heartbeat(self, agent_id: str, before_seq: int) -> dict[str, Any] | None:
        """The agent's stored heartbeat with the highest seq below ``before_seq`` (masked), or None."""

    @abstractmethod
    def batch_hash(self, agent_id: str, batch_seq: int) -> str | None: ...

    @abstractmethod
    def ingest(self, batch: BatchWrite) -> IngestOutcome: ...

    @abstractmethod
    def count_rejection(self, code: str) -> None: ...

    # reading
    @abstractmethod
    def stats(self, agent_id: str | None = None) -> dict[str, Any]: ...

    @abstractmethod
    def timeline(self, agent_id: str, day: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    def quarantined(self, agent_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]: ...

    @abstractmethod
    def integrity_records(self, agent_id: str | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def purge(self, before_day: str, before_ts: float) -> dict[str, int]:
        """Retention: remove events of days before ``before_day`` and records older than ``before_ts``."""

    @abstractmethod
    def get_kv(self, key: str) -> str | None: ...

    @abstractmethod
    def set_kv(self, key: str, value: str) -> None: ...
