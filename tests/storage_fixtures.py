"""Database URLs and stores for tests that run on every storage backend (a plugin: ``tests/conftest.py``).

The fixtures ``store_url`` (a fresh, empty database) and ``store`` (a :class:`SqlStore` on it, schema
made) are parametrized over :data:`BACKENDS`, so a test that takes either runs once per backend.
A fixture of another shape parametrizes over :data:`BACKENDS` itself and turns a backend name into
a database with :func:`fresh_url`: a SQLite file in the test's folder, or a PostgreSQL schema of its
own (``search_path`` in the URL) that is dropped afterwards. PostgreSQL cases are skipped, saying
why, only when no server answers at 127.0.0.1:5432 (``SEATGUARD_TEST_PG`` overrides the base URL).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

from collector.storage import open_store
from collector.storage.sql import SqlStore

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_BASE = os.environ.get("SEATGUARD_TEST_PG", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@cache
def pg_unavailable() -> str | None:
    """Why PostgreSQL tests are skipped here: no server listens (None when one does).

    A server that listens but refuses the test connection is a broken set-up, not a reason to skip:
    the tests then fail and say why.
    """
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return None
    except OSError as exc:
        return f"no PostgreSQL server reachable at {PG_HOST}:{PG_PORT} ({exc})"


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped on exit."""
    import psycopg

    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    name = f"sgt_{uuid.uuid4().hex[:16]}"
    try:
        with psycopg.connect(PG_BASE, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} refused the test connection ({PG_BASE}): {exc}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def sql_store(url: str) -> SqlStore:
    store = open_store(url)
    assert isinstance(store, SqlStore)
    return store


@contextmanager
def fresh_url(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / 'store.db'}"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend (another store may open it too)."""
    with fresh_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """A store on :func:`store_url`'s database, its schema made; closed after the test."""
    s = sql_store(store_url)
    s.create_schema()
    yield s
    s.close()
