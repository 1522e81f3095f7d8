"""The storage interface every backend implements (SQLite embedded, PostgreSQL scale-out).

:class:`Store` is the boundary between the collector's services and its database. It holds the
agents, their events and what is derived from them (rollups, shifts) itself, and
hands out one *repository* per further area, each an interface of its own declared in
``collector/storage/<area>.py`` beside its SQL implementation:

- ``store.accounts``: people's accounts (``users``, :mod:`collector.storage.accounts`);
- ``store.api_tokens``: API tokens (``api_tokens``, :mod:`collector.storage.api_tokens`);
- ``store.sessions``: web sessions (rows of ``kv``, :mod:`collector.storage.sessions`);
- ``store.audit``: the audit log (``audit``, :mod:`collector.storage.audit`);
- ``store.job_runs``: scheduled jobs' runs, locks and leases (``job_runs``, ``job_leases``,
  :mod:`collector.storage.job_runs`);
- ``store.policy_versions``: the policy's versions (``policy_versions``, :mod:`collector.storage.policy_versions`);
- ``store.wall``: the live wall's reads of an agent's day (``events``, :mod:`collector.storage.wall`);
- ``store.alerts``: alerts and their outbox (``alerts``, ``alert_deliveries``), and the alert checks'
  reads of rollups and events (:mod:`collector.storage.alerts`);
- ``store.screenshots``: sealed screenshots and their quotas (``screenshots``, :mod:`collector.storage.screenshots`);
- ``store.reports``: daily reports and reviewer labels (``reports``, ``labels``, :mod:`collector.storage.reports`);
- ``store.holds``: legal holds, agents whose retention is suspended (``legal_holds``, :mod:`collector.storage.holds`).

Every table is declared once, on the one ``MetaData`` of :mod:`collector.storage.tables`.
A service receives the store (or the repository) and never writes SQL: no module outside
``collector/storage`` opens a connection or imports SQLAlchemy. A new backend implements this
class and every repository; ``tests/test_storage_backends.py`` and ``tests/test_storage_repositories.py``
run the same contract on each.

A new area: ``collector/storage/<area>.py`` holds ``<Area>Repo`` (an ABC: what the service may ask,
in the service's terms) and ``Sql<Area>Repo`` (written against
:class:`collector.storage.connections.Connections`); ``Store`` declares ``<area>`` as an abstract
property returning ``<Area>Repo``; :class:`collector.storage.repositories.SqlRepositories` makes it;
tests named ``test_<area>_...`` in a ``tests/test_storage_*.py`` module run it on every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from collector.storage.accounts import AccountRepo
from collector.storage.alerts import AlertRepo
from collector.storage.api_tokens import ApiTokenRepo
from collector.storage.audit import AuditRepo
from collector.storage.holds import HoldRepo
from collector.storage.job_runs import JobRunRepo
from collector.storage.policy_versions import PolicyRepo
from collector.storage.reports import ReportRepo
from collector.storage.screenshots import ScreenshotRepo
from collector.storage.sessions import SessionRepo
from collector.storage.wall import WallRepo

DayShifts = dict[str, tuple[str, str]]  # kind -> (start, end) for one agent-day
Compute = Callable[[str, dict[str, Any], DayShifts], "dict[str, float] | None"]


class StoredEvent(NamedTuple):  # a tuple, not a frozen dataclass: one is made per event on the hot path
    seq: int
    ts: str
    ts_ms: int
    day: str
    kind: str
    data: str  # masked JSON of the whole event
    event: dict[str, Any]  # the masked event itself (for rollups)
    customer: Any = None  # a page's customer, keyed before masking (detectors.need_to_know); never stored
    at: float | None = None  # the moment of ``ts`` in POSIX seconds, as ingest read it (None: parse ``ts``)


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
    # the enrolled key that verified the batch (read before the write, perhaps a while ago): the write
    # refuses the batch if the agent's row names another key now, or a revocation
    public_key: str | None = None


@dataclass
class IngestOutcome:
    status: str  # stored | duplicate | conflict | revoked | key_changed
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    integrity: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class RollupAccess(ABC):
    """Per agent-day rollup state, read and written inside one ingest transaction: what the rollup hook
    is handed. ``after_commit`` callbacks run once that transaction has committed (never when it rolls
    back): what a process keeps in memory of a write may only follow a write that happened."""

    @abstractmethod
    def load(self, agent_id: str, day: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def version(self, agent_id: str, day: str) -> int | None:
        """The stored version of the agent-day's state (it changes with every write), or None."""

    @abstractmethod
    def shifts(self, agent_id: str, day: str) -> DayShifts:
        """The shift entries of the agent-day, in this transaction."""

    @abstractmethod
    def save(self, agent_id: str, day: str, state: dict[str, Any], existed: bool,
             features: dict[str, float] | None = None) -> None: ...

    @abstractmethod
    def save_json(self, agent_id: str, day: str, body: str, expected: int | None,
                  features: dict[str, float] | None = None) -> int:
        """Write the state as JSON over the row at version ``expected`` (None: no row yet); returns the
        row's new version."""

    @abstractmethod
    def after_commit(self, callback: Callable[[], None]) -> None: ...


RollupHook = Callable[[RollupAccess, str, list[StoredEvent], list[tuple[str, dict[str, Any]]]],
                      "list[tuple[StoredEvent, str]] | None"]
"""Called inside the ingest transaction: (the transaction's rollup access, agent_id, new events, integrity).

It may return the events it could not fold in, each with a reason: the store then quarantines them
instead of keeping them (same transaction)."""


class Store(ABC):
    """Everything the collector keeps. Implementations must make ``ingest`` one atomic transaction."""

    is_sqlite = False  # one embedded file: a single writer, no cross-process notices or advisory locks

    # repositories, one per area (see the module docstring)
    @property
    @abstractmethod
    def accounts(self) -> AccountRepo: ...

    @property
    @abstractmethod
    def api_tokens(self) -> ApiTokenRepo: ...

    @property
    @abstractmethod
    def sessions(self) -> SessionRepo: ...

    @property
    @abstractmethod
    def audit(self) -> AuditRepo: ...

    @property
    @abstractmethod
    def job_runs(self) -> JobRunRepo: ...

    @property
    @abstractmethod
    def policy_versions(self) -> PolicyRepo: ...

    @property
    @abstractmethod
    def wall(self) -> WallRepo: ...

    @property
    @abstractmethod
    def alerts(self) -> AlertRepo: ...

    @property
    @abstractmethod
    def screenshots(self) -> ScreenshotRepo: ...

    @property
    @abstractmethod
    def reports(self) -> ReportRepo: ...

    @property
    @abstractmethod
    def holds(self) -> HoldRepo: ...

    @abstractmethod
    def create_schema(self) -> None:
        """Create a new database at the newest schema; refuse one that needs ``migrate`` first."""

    @abstractmethod
    def migrate(self) -> tuple[str | None, str]:
        """Upgrade the schema in place; returns (revision before, revision after)."""

    @abstractmethod
    def schema_revision(self) -> str | None:
        """The database's schema revision (None for an empty database)."""

    @abstractmethod
    def close(self) -> None: ...

    # enrollment and agents
    @abstractmethod
    def add_enroll_token(self, token_hash: str, team: str, role: str, shift: tuple[str, str] | None,
                         created_at: float, expires_at: float, name: str | None = None) -> None: ...

    @abstractmethod
    def enroll_tokens(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest enrollment tokens' rows (their hashes too: a caller showing them drops those)."""

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
    def last_heartbeat(self, agent_id: str, before_seq: int, from_seq: int = 1) -> dict[str, Any] | None:
        """The agent's stored heartbeat with the highest seq below ``before_seq`` and at least ``from_seq``
        (masked), or None. The events between are read one by one: callers bound the stretch."""

    @abstractmethod
    def batch_hash(self, agent_id: str, batch_seq: int) -> str | None: ...

    @abstractmethod
    def ingest(self, batch: BatchWrite, rollup_hook: RollupHook | None = None) -> IngestOutcome:
        """Store the batch in one transaction; ``rollup_hook`` (the collector's rollups) runs inside it."""

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
    def purge(self, before_day: str, before_ts: float, kind_days: Mapping[str, str] | None = None,
              held: Collection[str] = ()) -> dict[str, int]:
        """Retention: remove events of days before ``before_day`` (of a kind in ``kind_days``: before that
        kind's day, which is never earlier) and records older than ``before_ts``; nothing of an agent
        in ``held`` (a legal hold) goes."""

    @abstractmethod
    def get_kv(self, key: str) -> str | None: ...

    @abstractmethod
    def set_kv(self, key: str, value: str) -> None: ...

    # rollups, reports and reviewer labels
    @abstractmethod
    def rollups_for_day(self, day: str) -> list[tuple[str, dict[str, Any]]]:
        """(agent_id, rollup state) of every agent with a rollup that day, by agent_id."""

    @abstractmethod
    def rollup_version(self, agent_id: str, day: str) -> int | None:
        """The committed version of the agent-day's rollup (changes with every write of its state)."""

    @abstractmethod
    def rollup_versions(self, first_day: str, last_day: str) -> dict[str, dict[str, int]]:
        """Per day in [first_day, last_day] that has rollups, each agent's committed rollup version (what the
        daily report compares to know whether a day it judged changed since)."""

    @abstractmethod
    def rollup_state(self, agent_id: str, day: str) -> dict[str, Any] | None:
        """The committed state of the agent-day's rollup, or None."""

    @abstractmethod
    def feature_history(self, first_day: str, last_day: str) -> dict[str, list[dict[str, float]]]:
        """Stored features per agent for days in [first_day, last_day], oldest first."""

    @abstractmethod
    def history_with_versions(self, first_day: str, last_day: str) -> tuple[
            dict[str, list[dict[str, float]]], dict[str, dict[str, int]]]:
        """:meth:`feature_history` and :meth:`rollup_versions` of the same days, from one read of the rows
        (the versions sit behind the state in a row: on SQLite, reading them walks the state's pages)."""

    @abstractmethod
    def rollups_without_features(self, first_day: str, last_day: str) -> list[tuple[str, str]]:
        """(agent_id, day) of the rollups in [first_day, last_day] saved without features (ingest leaves a
        day still under way to the report), oldest day first."""

    @abstractmethod
    def rollup_state_version(self, agent_id: str, day: str) -> tuple[dict[str, Any], int] | None:
        """The committed state of the agent-day's rollup with its version, or None."""

    @abstractmethod
    def set_features(self, rows: list[tuple[str, str, int, dict[str, float]]]) -> int:
        """Store features computed from a rollup's state, each ``(agent_id, day, version, features)``
        only where the row is still at that version (a batch saved since wins); returns how many."""

    @abstractmethod
    def merge_features(self, day: str, values: dict[str, dict[str, float]]) -> int:
        """Merge report-time figures into that day's stored features; returns how many rows changed."""

    # shifts entered per agent and day (collector.shifts checks the values)
    @abstractmethod
    def set_shifts(self, agent_id: str, days: Iterable[str], kind: str, start: str, end: str, by: str,
                   now: float, notify: Callable[[Any], None] | None = None) -> int:
        """Enter ``kind`` (start, end) for every day, replacing an entry of that kind; returns how many.
        ``notify(conn)`` runs in the writing transaction (a change notice to other processes)."""

    @abstractmethod
    def clear_shifts(self, agent_id: str, days: Iterable[str], kind: str | None = None,
                     notify: Callable[[Any], None] | None = None) -> int:
        """Remove the entries of these days (of one kind, or both); returns how many went (``notify``: as
        :meth:`set_shifts`, when any went)."""

    @abstractmethod
    def list_shifts(self, first_day: str, last_day: str,
                    agent_ids: list[str] | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def shifts_on(self, day: str) -> dict[str, DayShifts]:
        """Every agent's entries for one day."""

    @abstractmethod
    def refresh_rollups(self, agent_id: str, days: Iterable[str], compute: Compute,
                        keep: Collection[str] = ()) -> list[str]:
        """Recompute the stored features of the agent's rollups on these days in one transaction with
        ``compute(day, state, shifts)``, the stored values of the features named in ``keep`` (figures
        judged at report time) left as they are; returns the days refreshed."""
