"""The days' shift entries kept in memory (:mod:`collector.shift_entries`), on every backend.

Two stores on one database stand for two collector processes: a day is read once however often it is
asked for, an entry written through one process is what the other serves within a second (by the change
notice on PostgreSQL, by the stored version on SQLite), and a write in the process itself applies at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.shift_entries import ShiftEntries
from collector.storage.notify import PgChangeFeed, open_feed
from collector.storage.sql import SqlStore
from tests.storage_fixtures import BACKENDS, fresh_url, sql_store

DAY = "2026-11-24"


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    with fresh_url(request.param, tmp_path / "db") as url:
        pair = (sql_store(url), sql_store(url))
        for store in pair:
            store.create_schema()
        try:
            yield pair
        finally:
            for store in pair:
                store.close()


def test_a_day_is_read_once_and_a_write_elsewhere_is_seen_within_a_second(stores: tuple[SqlStore, SqlStore]) -> None:
    writer, reader = stores
    feeds = [open_feed(s) for s in stores]
    for feed in feeds:
        feed.start()
    try:
        other, kept = ShiftEntries(writer, feeds[0]), ShiftEntries(reader, feeds[1])
        if isinstance(feeds[1], PgChangeFeed):
            assert feeds[1].wait_live(10), "the listening connection never came up"
        writer.set_shifts("pc-1", [DAY], "shift", "13:00", "22:00", "boss", time.time())
        assert kept.of("pc-1", DAY) == {"shift": ("13:00", "22:00")} and kept.of("pc-2", DAY) == {}
        for _ in range(50):  # every batch asks; the database is asked once
            assert kept.of("pc-1", DAY) == {"shift": ("13:00", "22:00")}
        assert kept.reads == 1
        writer.set_shifts("pc-1", [DAY], "overtime", "22:00", "23:30", "boss", time.time(),
                          lambda conn: feeds[0].notify_in(conn, other.TOPIC, other.notice([DAY])))
        started = time.monotonic()
        while "overtime" not in kept.of("pc-1", DAY):
            assert time.monotonic() - started < 1.0, "the other process still serves the day without the overtime"
            time.sleep(0.01)
        assert kept.of("pc-1", DAY) == {"shift": ("13:00", "22:00"), "overtime": ("22:00", "23:30")}
        writer.clear_shifts("pc-1", [DAY], "shift",
                            lambda conn: feeds[0].notify_in(conn, other.TOPIC, other.notice([DAY])))
        started = time.monotonic()
        while "shift" in kept.of("pc-1", DAY):
            assert time.monotonic() - started < 1.0, "the cleared rota day is still served"
            time.sleep(0.01)
        assert kept.reads == 3
    finally:
        for feed in feeds:
            feed.close()


def test_a_write_in_this_process_drops_the_day_at_once(stores: tuple[SqlStore, SqlStore]) -> None:
    store = stores[0]
    kept = ShiftEntries(store)
    kept.CHECK_S = 3600.0  # no version check would come in time: only the drop can
    assert kept.day(DAY) == {} and kept.day("2026-11-25") == {}
    store.set_shifts("pc-1", [DAY], "overtime", "18:00", "20:00", "boss", time.time())
    assert kept.of("pc-1", DAY) == {}  # not dropped yet: still the copy read before
    kept.drop([DAY])
    assert kept.of("pc-1", DAY) == {"overtime": ("18:00", "20:00")}
    assert kept.reads == 3 and kept.kept_days() == 2
