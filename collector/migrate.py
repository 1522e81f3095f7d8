"""``seatguard-collector migrate``: upgrade the database schema in place (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging

from collector.config import Settings
from collector.storage import open_store

log = logging.getLogger(__name__)


def migrate(settings: Settings) -> str:
    """Bring the data folder's database to the newest schema; returns what was done, as one line."""
    store = open_store(settings.database_url)
    try:
        before, after = store.migrate()
    finally:
        store.close()
    where = settings.database_url.split("@")[-1]
    if before == after:
        return f"database {where}: schema already at revision {after}"
    log.info("database %s: schema upgraded from revision %s to %s", where, before, after)
    return f"database {where}: schema upgraded from revision {before or '(empty)'} to {after}"
