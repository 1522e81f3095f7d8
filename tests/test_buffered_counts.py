"""Refusals are counted in few write transactions (collector.storage.buffered_counts).

A request that needs no key (garbage, an unknown agent) used to cost a write transaction to count; a flood
of them held SQLite's one write lock against every agent's uploads. Now the first refusal after a quiet
second is written at once, the rest of that second in one more transaction, and reading the counts
through the store writes what is pending first.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from collector.storage.buffered_counts import BufferedCounts
from tests.storage_fixtures import fresh_url


def test_counts_gather_and_are_written_once_a_second() -> None:
    written: list[dict[str, int]] = []
    counts = BufferedCounts(written.append, every_s=0.3)
    counts.add("malformed")  # the first after a quiet spell: at once
    assert written == [{"malformed": 1}]
    for _ in range(500):
        counts.add("malformed")
    counts.add("too_large")
    assert written == [{"malformed": 1}]  # gathered
    deadline = time.monotonic() + 5
    while len(written) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert written == [{"malformed": 1}, {"malformed": 500, "too_large": 1}]  # the timer wrote the rest
    counts.add("malformed")
    counts.flush()  # a reader's flush
    assert sum(w.get("malformed", 0) for w in written) == 502 and counts.writes == 3


def test_a_failing_write_never_reaches_the_caller(caplog: Any) -> None:
    def broken(_: dict[str, int]) -> None:
        raise RuntimeError("database gone")

    counts = BufferedCounts(broken, every_s=0.1)
    counts.add("bad_signature")  # raises nothing
    assert "could not write 1 counts (bad_signature)" in caplog.text


def test_a_flood_of_garbage_is_counted_exactly_in_few_transactions(tmp_path: Path) -> None:
    from collector.storage import open_store

    with fresh_url("sqlite", tmp_path / "db") as url:
        store = open_store(url)
        try:
            store.create_schema()
            began = []
            from sqlalchemy import event

            event.listen(store.writer, "begin", lambda conn: began.append(1))
            for _ in range(300):
                store.count_rejection("malformed")
            store.count_rejection("unknown_agent")
            assert store.stats()["rejections"] == {"malformed": 300, "unknown_agent": 1}
            assert len(began) <= 3, len(began)  # the first at once, the rest by the timer or the read
        finally:
            store.close()
