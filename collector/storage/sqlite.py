"""SQLite backend, the embedded default: WAL, one writer (a process lock + ``BEGIN IMMEDIATE``), readers apart."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import sqlite

from collector.storage.sql import SqlStore


class SqliteStore(SqlStore):
    is_sqlite = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._write_lock = threading.Lock()

    def _engines(self, url: str) -> tuple[Engine, Engine]:
        return _engine(url, immediate=True), _engine(url, immediate=False)

    def _insert(self, table: Table) -> Any:
        return sqlite.insert(table)


def _engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")
        _wal(cur)
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _wal(cur: Any, deadline_s: float = 30.0) -> None:
    """Switch a new database file to WAL (a persistent setting, so usually already done).

    The switch needs an exclusive lock and SQLite answers "database is locked" at once, without its busy
    handler, when several collectors open a fresh file together: retry for a while.
    """
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    give_up = time.monotonic() + deadline_s
    delay = 0.01
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
            time.sleep(delay)  # back off before the next attempt at the exclusive lock
            delay = min(delay * 2, 0.5)
