"""Switching a SQLite file to write-ahead logging when several processes may open it at once.

WAL is a persistent property of the file, so this is usually a no-op. On a fresh file the switch needs
an exclusive lock, and SQLite answers "database is locked" at once, without its busy handler, when
another connection opens the same file in that instant (two collectors starting together; the agent's
`run` and `status` on a new spool). Such an answer is retried for a while instead of being taken for
damage. Used by the agent's spool and the collector's SQLite store.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any


def switch_to_wal(cur: Any, deadline_s: float = 30.0) -> None:
    """Put the database behind ``cur`` (a DB-API cursor or connection) in WAL mode."""
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    give_up = time.monotonic() + deadline_s
    delay = 0.01
    while True:
        try:
            mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
        else:
            if mode and str(mode[0]).lower() == "wal":
                return
            if time.monotonic() > give_up:  # e.g. a file system without shared memory: refuse loudly
                raise sqlite3.OperationalError(f"could not switch to WAL (journal mode stays {mode and mode[0]!r})")
        time.sleep(delay)  # back off before the next attempt at the exclusive lock
        delay = min(delay * 2, 0.5)
