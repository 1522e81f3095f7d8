"""A small batch costs the collector work in proportion to the batch, never to the agent's history.

An insider holds the agent's key and may send any validly signed batch. A batch of two events numbered
1 and N (both stored already), or a heartbeat numbered like an event already stored, must not make the
collector read every event the agent ever sent: on SQLite the dedupe runs under the one write lock that
every PC's upload waits for. The work is counted in SQLite virtual-machine steps (a progress handler
on every connection of the store), which does not depend on the machine's load.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from contract.schema import format_ts
from tests.test_ingest_rejections import Harness, h  # noqa: F401  (fixture)

STORED = 30_000  # events of the agent's history (two batches)
STEP = 1  # VM instructions per progress-handler call (SQLite counts them per statement)


class VmSteps:
    """Counts the SQLite VM instructions every connection of the store runs (in units of STEP)."""

    def __init__(self, *engines: Any) -> None:
        self.ticks = 0
        for engine in {id(e): e for e in engines}.values():
            engine.dispose()  # pooled connections reconnect, with the handler
            event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_progress_handler(self._tick, STEP)

    def _tick(self) -> int:
        self.ticks += 1
        return 0


def _event(seq: int, kind: str = "app.focus") -> dict[str, Any]:
    base = {"schema": 1, "agent_id": "pc-1", "seq": seq, "ts": format_ts(datetime.now(UTC)), "kind": kind}
    if kind == "agent.heartbeat":
        return {**base, "spool_depth": 0, "dropped_total": 0, "cpu_pct": 1.0, "rss_mb": 10.0}
    return {**base, "app": "crm.exe", "title": "case list", "pid": 7}


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[tuple[Harness, VmSteps]]:
    harness = Harness(tmp_path / "c")
    half = STORED // 2
    for batch_seq, first in ((1, 1), (2, half + 1)):
        answer = harness.post(harness.seal(batch_seq, [_event(s) for s in range(first, first + half)]))
        assert answer.status_code == 200 and answer.json()["stored"] == half, answer.text
    steps = VmSteps(harness.collector.store.writer, harness.collector.store.reader)
    yield harness, steps
    harness.client.close()
    harness.collector.close()


def _cost(harness: Harness, steps: VmSteps, batch_seq: int, events: list[dict[str, Any]]) -> int:
    before = steps.ticks
    answer = harness.post(harness.seal(batch_seq, events))
    assert answer.status_code == 200, answer.text
    return steps.ticks - before


def test_a_batch_spanning_the_whole_history_reads_only_its_own_events(filled: tuple[Harness, VmSteps]) -> None:
    harness, steps = filled
    normal = _cost(harness, steps, 3, [_event(STORED + 1), _event(STORED + 2)])
    wide = _cost(harness, steps, 4, [_event(1), _event(STORED)])  # both stored already: duplicates
    assert harness.stats()["events"] == STORED + 2
    # unbounded, the dedupe read all 30,000 stored numbers between 1 and 30,000 (some 20 times the cost)
    assert wide < 3 * normal + 200, (wide, normal)


def test_a_heartbeat_after_a_long_run_without_one_reads_a_bounded_stretch(filled: tuple[Harness, VmSteps]) -> None:
    harness, steps = filled
    # numbered like an event already stored: never stored itself, so every such batch searches again
    beat = _cost(harness, steps, 3, [_event(STORED, "agent.heartbeat")])
    half = STORED // 2
    for batch_seq, first in ((4, STORED + 1), (5, STORED + half + 1)):  # twice the history, still no heartbeat
        assert harness.post(harness.seal(batch_seq, [_event(s) for s in range(first, first + half)])).status_code == 200
    later = _cost(harness, steps, 6, [_event(2 * STORED, "agent.heartbeat")])
    # unbounded, the search for the previous heartbeat read the whole history: twice as long, twice the cost
    assert later < 1.2 * beat + 500, (later, beat)


def test_a_sparse_batch_still_drops_exactly_its_stored_events(h: Harness) -> None:  # noqa: F811
    """The sparse lookup (its own numbers, by chunks) finds the same duplicates as the range, on every backend."""
    assert h.post(h.seal(1, [_event(s) for s in range(1, 1201)])).status_code == 200
    seqs = [*range(1, 1201, 2), 5000, 7000]  # 600 stored already, spread over the whole range, and 2 new ones
    answer = h.post(h.seal(2, [_event(s) for s in seqs]))
    assert answer.status_code == 200 and (answer.json()["stored"], answer.json()["duplicates"]) == (2, 600)
    assert h.stats()["events"] == 1202


def test_heartbeats_naming_a_policy_never_issued_do_not_reload_the_policies_each_batch(h: Harness) -> None:  # noqa: F811
    """A version above every one issued is looked up in the database (another collector may have saved it a
    moment ago), by one cheap query: reading every version again on every such batch is the insider's to
    order, at no cost of their own."""
    policy = h.collector.policy
    policy.current()
    before = policy.reloads
    forged = "ab" * 32
    for batch_seq in range(1, 6):
        beat = {**_event(batch_seq, "agent.heartbeat"), "policy_version": 10**9, "policy_hash": forged}
        answer = h.post(h.seal(batch_seq, [beat]))
        assert answer.status_code == 200 and answer.json()["stored"] == 1, answer.text
    assert policy.reloads - before <= 1, policy.reloads - before
    findings = [r for r in h.collector.store.integrity_records("pc-1") if r["kind"] == "policy_mismatch"]
    assert len(findings) == 5  # still a policy never issued, every time


def test_a_batch_of_one_event_a_day_folds_a_bounded_number_of_rollups(h: Harness) -> None:  # noqa: F811
    """Each local day a batch's events fall on is an agent-day rollup folded and saved in its transaction: a
    2 KB batch of one event a day over 170 days held SQLite's write lock 0.4-0.8 s. Past MAX_BATCH_DAYS days
    the events are quarantined with the reason (an agent's own batches hold a day or two)."""
    from datetime import timedelta

    from collector.ingest import MAX_BATCH_DAYS

    tz = h.collector.settings.tz
    noon = datetime.now(tz).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    events = [{**_event(i + 1), "ts": format_ts(noon - timedelta(days=i))} for i in range(40)]
    answer = h.post(h.seal(1, events))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["stored"], answer.json()["quarantined"]) == (MAX_BATCH_DAYS, 40 - MAX_BATCH_DAYS)
    days = {(noon - timedelta(days=i)).date().isoformat() for i in range(40)}
    folded = [d for d in sorted(days) if h.collector.store.rollup_version("pc-1", d) is not None]
    assert len(folded) == MAX_BATCH_DAYS, folded
    reasons = {q["reason"] for q in h.collector.store.quarantined("pc-1", limit=100)}
    assert all(f"fall on more than {MAX_BATCH_DAYS} days" in r for r in reasons), reasons
    # two days (midnight inside a batch), and a day already seen, are stored as before
    late = noon + timedelta(hours=13)
    again = h.post(h.seal(2, [{**_event(41), "ts": format_ts(noon)}, {**_event(42), "ts": format_ts(late)}]))
    assert again.status_code == 200 and again.json()["stored"] == 2
