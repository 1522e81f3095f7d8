"""SQLite backend, the embedded default: WAL, one writer (a process lock + ``BEGIN IMMEDIATE``), readers apart."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import sqlite

from collector.storage.base import StoredEvent
from collector.storage.ingest_sql import EVENT_COLUMNS
from collector.storage.sql import SqlStore
from contract.sqlite_wal import switch_to_wal

_INSERT_EVENTS = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"


class SqliteStore(SqlStore):
    is_sqlite = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._write_lock = threading.Lock()

    def _engines(self, url: str) -> tuple[Engine, Engine]:
        return _engine(url, immediate=True), _engine(url, immediate=False)

    def _insert(self, table: Table) -> Any:
        return sqlite.insert(table)

    def _bulk_insert(self, conn: Connection, agent_id: str, events: list[StoredEvent]) -> int:
        """One executemany of plain tuples (no per-row parameter processing in SQLAlchemy)."""
        conn.exec_driver_sql(_INSERT_EVENTS, [(agent_id, e.seq, e.ts, e.ts_ms, e.day, e.kind, e.data) for e in events])
        return len(events)


def _engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")
        switch_to_wal(cur)
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


