"""PostgreSQL backend, the scale-out: several stateless collector processes share one database.

- URLs: ``postgresql://`` (and ``postgresql+psycopg://``) use psycopg 3.
- ``events`` is partitioned by day (:mod:`collector.storage.partitions`): partitions are made on
  demand before each ingest and retention drops whole days.
- An ingest is one transaction that first locks the agent's row (``SELECT ... FOR UPDATE``), so
  batches of one agent arriving at two collectors at once are applied one after the other; the
  ``batches`` primary key still catches a batch stored twice. Events go in with one COPY into a
  temporary staging table and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.
- Schema migrations take an advisory lock, so collectors that start together migrate once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from collector.errors import ConfigError, StorageError
from collector.storage.base import BatchWrite, IngestOutcome, RollupHook, StoredEvent
from collector.storage.job_runs import JobRunRepo, PgJobRunRepo
from collector.storage.partitions import Partitions
from collector.storage.sql import SqlStore, run_committed

SCHEMA_LOCK = 0x5EA7_0002  # pg_advisory lock key: schema creation and migrations
MIN_SERVER = (14,)  # DETACH PARTITION ... CONCURRENTLY
_STAGING = "events_incoming"  # temporary table, one per connection, emptied at every commit
_COLUMNS = "agent_id, seq, ts, ts_ms, day, kind, data"
_NO_PARTITION = "23514"  # check_violation: "no partition of relation ... found for row"


def driver_url(url: str) -> str:
    """``postgresql://`` -> ``postgresql+psycopg://`` (psycopg 3); an explicit driver is kept."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg://{rest}" if sep and scheme == "postgresql" else url


class PostgresStore(SqlStore):
    def __init__(self, url: str) -> None:
        super().__init__(driver_url(url))
        self.partitions = Partitions(self.writer)

    def _engines(self, url: str) -> tuple[Engine, Engine]:
        engine = create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)

        @event.listens_for(engine, "commit")
        def _keep_staging(conn: Connection) -> None:  # the staging table made in this transaction stays
            made = conn.connection.info.get(_STAGING)
            if made is not None and not made[1]:
                conn.connection.info[_STAGING] = (made[0], True)

        def _forget_staging(conn: Connection, *_savepoint: Any) -> None:  # ... or went with it
            made = conn.connection.info.get(_STAGING)
            if made is not None and not made[1]:
                conn.connection.info.pop(_STAGING, None)

        event.listen(engine, "rollback", _forget_staging)
        event.listen(engine, "rollback_savepoint", _forget_staging)  # the bulk write's SAVEPOINT

        return engine, engine

    def _insert(self, table: Table) -> Any:
        return postgresql.insert(table)

    @cached_property
    def job_runs(self) -> JobRunRepo:
        """Jobs are locked with advisory locks here, not lease rows."""
        return PgJobRunRepo(self, self.writer)

    def _schema_lock(self, conn: Connection) -> None:
        version = conn.dialect.server_version_info or (0,)
        if tuple(version) < MIN_SERVER:
            raise ConfigError(f"PostgreSQL {'.'.join(map(str, version))} is too old: SeatGuard needs 14 or later")
        conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))

    def ingest(self, batch: BatchWrite, rollup_hook: RollupHook | None = None) -> IngestOutcome:
        days = {e.day for e in batch.events}
        self.partitions.ensure(days)
        committed: list[Callable[[], None]] = []
        try:
            with self._write() as conn:
                outcome = self._ingest(conn, batch, rollup_hook, committed)
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) != _NO_PARTITION:
                return self._settled(batch, exc)
        else:
            run_committed(committed)
            return outcome
        # another collector's retention dropped a partition this process still believed in
        self.partitions.forget()
        self.partitions.ensure(days)
        return super().ingest(batch, rollup_hook)

    def _bulk_insert(self, conn: Connection, agent_id: str, events: list[StoredEvent]) -> int:
        """COPY the batch into a session-local staging table, then one INSERT ... ON CONFLICT DO NOTHING."""
        driver = conn.connection.driver_connection  # psycopg 3, inside the ingest transaction
        if driver is None:
            raise StorageError("the database connection was closed during an ingest")
        info = conn.connection.info
        if info.get(_STAGING) != (id(driver), True):  # made once per connection, see _engines
            conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (LIKE events INCLUDING DEFAULTS) "
                                 "ON COMMIT DELETE ROWS")
            info[_STAGING] = (id(driver), False)  # made in this transaction: kept only if it commits
        try:
            with driver.cursor() as cur, cur.copy(f"COPY {_STAGING} ({_COLUMNS}) FROM STDIN") as copy:
                for e in events:
                    copy.write_row((agent_id, e.seq, e.ts, e.ts_ms, e.day, e.kind, e.data))
        except psycopg.Error as exc:
            info.pop(_STAGING, None)  # made again by the next batch, should it be missing
            raise StorageError(f"could not stage events for {agent_id}: {exc}") from exc
        res = conn.exec_driver_sql(
            f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGING} ON CONFLICT DO NOTHING",
            execution_options={"preserve_rowcount": True})
        return int(res.rowcount)

    def _purge_events(self, before_day: str, keep: list[str]) -> int:
        return self.partitions.drop_before(before_day, keep)
