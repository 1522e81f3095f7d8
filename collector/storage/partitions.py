"""PostgreSQL day partitions of ``events``: one table per calendar day, named ``events_YYYYMMDD``.

Partitions are made on demand before an ingest transaction, under an advisory lock so that two
collectors needing the same day make it once; a new table is attached with ``ATTACH PARTITION``
(SHARE UPDATE EXCLUSIVE on ``events``: ingest and queries go on meanwhile). Retention detaches
whole days with ``DETACH PARTITION ... CONCURRENTLY`` and drops them: no row-by-row delete.

A legal hold keeps an agent's rows of such a day: the detached day's rows of held agents are copied
into a new table, which replaces the day's partition in one transaction (create, copy, drop the old,
rename, attach). The copy costs what the held agents' rows of the day weigh (one agent's day: a few
thousand rows), not a delete through the fleet's day, and a day holding nothing but held rows is left
as it is. A day detached but not yet dropped or replaced (a process that died between the steps) is
found by name at the next purge and finished then.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from collector.errors import StorageError

log = logging.getLogger(__name__)
PARENT = "events"
PARTITION_LOCK = 0x5EA7_0001  # pg_advisory lock key: partition DDL, one collector at a time
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_NAME = re.compile(r"events_(\d{4})(\d{2})(\d{2})\Z")
_COLUMNS = "agent_id, seq, ts, ts_ms, day, kind, data"


def partition_name(day: str) -> str:
    _check(day)
    return f"{PARENT}_{day.replace('-', '')}"


def _check(day: str) -> date:
    try:
        if _DAY.match(day):
            return date.fromisoformat(day)
    except ValueError:
        pass
    raise StorageError(f"not a partition day: {day!r}")


def next_day(day: str) -> str | None:
    d = _check(day)
    return None if d == date.max else (d + timedelta(days=1)).isoformat()


def listed_days(conn: Connection) -> dict[str, bool]:
    """Days that have a partition of ``events`` -> whether a concurrent detach of it is pending."""
    rows = conn.execute(text(
        "SELECT c.relname, i.inhdetachpending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:parent)"), {"parent": PARENT})
    out: dict[str, bool] = {}
    for name, pending in rows:
        m = _NAME.match(str(name))
        if m:
            out["-".join(m.groups())] = bool(pending)
    return out


def create_partition(conn: Connection, day: str) -> None:
    """Make and attach the partition of ``day`` (the caller holds :data:`PARTITION_LOCK`)."""
    name = partition_name(day)
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    conn.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {_bound(day)}"))
    log.info("created events partition %s", name)


def _bound(day: str) -> str:
    upper = next_day(day)
    return f"FROM ('{day}') TO (" + ("MAXVALUE" if upper is None else f"'{upper}'") + ")"


def detached_days(conn: Connection) -> set[str]:
    """Days whose ``events_YYYYMMDD`` table exists in the schema but is no partition (a purge stopped midway)."""
    rows = conn.execute(text(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition "
        "AND relnamespace = current_schema()::regnamespace AND relname ~ '^events_[0-9]{8}$'"))
    out = set()
    for (name,) in rows:
        m = _NAME.match(str(name))
        if m:
            out.add("-".join(m.groups()))
    return out


def keep_held(conn: Connection, day: str, keep: Sequence[str]) -> None:
    """Make the held agents' rows of ``day``'s detached table the day's partition (one transaction: ``conn``)."""
    name = partition_name(day)
    kept = f"{name}_held"
    conn.execute(text(f"CREATE TABLE {kept} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    conn.execute(text(f"INSERT INTO {kept} ({_COLUMNS}) SELECT {_COLUMNS} FROM {name} WHERE agent_id = ANY(:keep)"),
                 {"keep": list(keep)})
    conn.execute(text(f"DROP TABLE {name}"))
    conn.execute(text(f"ALTER TABLE {kept} RENAME TO {name}"))
    conn.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {_bound(day)}"))


class Partitions:
    """One collector process's view of which day partitions exist (a cache, refreshed when wrong)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: set[str] | None = None
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._known = None

    def ensure(self, days: Iterable[str]) -> None:
        """Make sure every day (and the day after it, so midnight finds its partition ready) exists."""
        wanted: set[str] = set()
        for day in days:
            wanted.add(day)
            following = next_day(day)
            if following is not None:
                wanted.add(following)
        with self._lock:
            known = self._known
        if known is not None and wanted <= known:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(select(func.pg_advisory_xact_lock(PARTITION_LOCK)))
                have = set(listed_days(conn))
                for day in sorted(wanted - have):
                    create_partition(conn, day)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot create events partitions: {exc}") from exc
        with self._lock:
            self._known = have | wanted

    def drop_before(self, before_day: str, keep: Sequence[str] = ()) -> int:
        """Detach and drop every partition of a day before ``before_day``, keeping the rows of the agents in
        ``keep`` (legal holds); returns the events removed."""
        _check(before_day)
        try:
            return self._drop_before(before_day, list(keep))
        except SQLAlchemyError as exc:
            raise StorageError(f"retention could not drop old events partitions: {exc}") from exc
        finally:
            self.forget()

    def _drop_before(self, before_day: str, keep: list[str]) -> int:
        removed = 0
        with self.engine.connect() as raw:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(select(func.pg_advisory_lock(PARTITION_LOCK)))
            try:
                attached = listed_days(conn)
                for day in sorted({*attached, *detached_days(conn)}):
                    if day < before_day:
                        removed += self._drop_day(conn, day, attached.get(day), keep)
            finally:
                conn.execute(select(func.pg_advisory_unlock(PARTITION_LOCK)))
        return removed

    def _drop_day(self, conn: Connection, day: str, pending: bool | None, keep: list[str]) -> int:
        """Drop one day's table (``pending``: None when it is detached already); returns the rows removed."""
        name = partition_name(day)
        total, held = conn.execute(text(
            f"SELECT count(*), count(*) FILTER (WHERE agent_id = ANY(:keep)) FROM {name}"), {"keep": keep}).one()
        if held and held == total and pending is False:
            return 0  # an attached day of nothing but held agents' rows stays as it is
        if pending is not None:
            how = "FINALIZE" if pending else "CONCURRENTLY"
            conn.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {name} {how}"))
        if held:
            with self.engine.begin() as tx:
                keep_held(tx, day, keep)
            log.info("retention: events partition %s kept %d rows of held agents, dropped %d", name, held,
                     total - held)
        else:
            conn.execute(text(f"DROP TABLE {name}"))
            log.info("retention: dropped events partition %s", name)
        return int(total) - int(held)
