"""Privacy rule 4 in storage, on every backend (the ``store`` fixture: :mod:`tests.storage_fixtures`):
legal holds (``store.holds``) and the purge that honours them and each kind's period. On PostgreSQL a
held agent's rows of an old day survive the drop of the day's partition (the day's table is replaced by
one holding only them)."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import text

from collector.storage import QuarantinedEvent, StoredEvent
from collector.storage.screenshots import BlobQuota
from collector.storage.sql import SqlStore
from tests.test_storage_backends import batch, enroll
from tests.test_storage_outbox_blobs_reports import CHANNELS, candidate

OLD, MID, NEW = "2026-05-01", "2026-10-01", "2026-11-23"  # purge: default before 2026-06-01, clipboard before 11-01


def event(agent_id: str, seq: int, day: str, kind: str = "app.focus") -> StoredEvent:
    ts = f"{day}T10:00:00.000+08:00"
    body = {"schema": 1, "agent_id": agent_id, "seq": seq, "ts": ts, "kind": kind}
    return StoredEvent(seq, ts, seq, day, kind, orjson.dumps(body).decode(), body)


def fill(store: SqlStore, agent_id: str) -> None:
    """One app.focus and one clipboard.copy on each of three days, and one quarantined row."""
    enroll(store, agent_id)
    events = [event(agent_id, i * 2 + j + 1, day, kind) for i, day in enumerate((OLD, MID, NEW))
              for j, kind in enumerate(("app.focus", "clipboard.copy"))]
    store.ingest(batch(agent_id, 1, events, quarantined=[QuarantinedEvent(99, "bad", "{}")]))


def kinds_by_day(store: SqlStore, agent_id: str) -> dict[str, list[str]]:
    return {day: sorted(e["kind"] for e in store.timeline(agent_id, day)) for day in (OLD, MID, NEW)}


def test_holds_put_get_lift_and_list(store: SqlStore) -> None:
    repo = store.holds
    assert repo.held() == frozenset() and repo.get("pc-1") is None and repo.all() == []
    assert repo.put("pc-1", "case 2026-17", "root", 100.0) is True
    assert repo.put("pc-1", "case 2026-17, widened", "root2", 200.0) is False  # renewed, not a second hold
    assert repo.put("pc-2", "audit", "root", 150.0) is True
    assert repo.get("pc-1") == {"agent_id": "pc-1", "reason": "case 2026-17, widened", "set_by": "root2",
                                "set_at": 200.0}
    assert [h["agent_id"] for h in repo.all()] == ["pc-1", "pc-2"] and repo.held() == {"pc-1", "pc-2"}
    assert repo.lift("pc-1") is True and repo.lift("pc-1") is False
    assert repo.held() == {"pc-2"} and repo.get("pc-1") is None


def test_holds_spare_a_held_agents_old_days_and_the_rest_goes(store: SqlStore) -> None:
    fill(store, "pc-held")
    fill(store, "pc-free")
    for agent_id in ("pc-held", "pc-free"):
        with store._write() as conn:  # a rollup and a shift of the old day, as ingest and a lead leave them
            conn.execute(text("INSERT INTO rollups (agent_id, day, state, updated_at, version) "
                              "VALUES (:a, :d, '{\"n\": 1}', 1, 1)"), {"a": agent_id, "d": OLD})
        store.set_shifts(agent_id, [OLD], "shift", "09:00", "18:00", "lead", 1.0)
    out = store.purge("2026-06-01", 5000.0, {"clipboard.copy": "2026-11-01"}, {"pc-held"})
    # pc-free: the old day entirely, and its clipboard event of the middle day (shorter period)
    assert out["events"] == 3 and out["quarantine"] == 1 and out["rollups"] == 1 and out["shifts"] == 1
    assert kinds_by_day(store, "pc-free") == {OLD: [], MID: ["app.focus"], NEW: ["app.focus", "clipboard.copy"]}
    assert kinds_by_day(store, "pc-held") == {OLD: ["app.focus", "clipboard.copy"],
                                              MID: ["app.focus", "clipboard.copy"],
                                              NEW: ["app.focus", "clipboard.copy"]}
    assert [q["agent_id"] for q in store.quarantined()] == ["pc-held"]
    assert store.rollup_state("pc-held", OLD) == {"n": 1} and store.rollup_state("pc-free", OLD) is None
    assert [s["agent_id"] for s in store.list_shifts(OLD, OLD)] == ["pc-held"]
    # a second purge finds only held rows in the old day: it keeps them and removes nothing
    assert store.purge("2026-06-01", 5000.0, {"clipboard.copy": "2026-11-01"}, {"pc-held"})["events"] == 0
    assert kinds_by_day(store, "pc-held")[OLD] == ["app.focus", "clipboard.copy"]
    # ingest still works on the day kept for the hold
    assert store.ingest(batch("pc-held", 2, [event("pc-held", 20, OLD)])).stored == 1
    # the hold lifted: the next purge removes what the periods say
    out = store.purge("2026-06-01", 5000.0, {"clipboard.copy": "2026-11-01"}, ())
    assert out["events"] == 4 and out["quarantine"] == 1
    assert kinds_by_day(store, "pc-held") == {OLD: [], MID: ["app.focus"], NEW: ["app.focus", "clipboard.copy"]}
    assert store.stats()["events"] == 6


def test_holds_spare_screenshots_and_alerts(store: SqlStore) -> None:
    for agent_id in ("pc-held", "pc-free"):
        enroll(store, agent_id)
        assert store.screenshots.add(agent_id, "b1", "2026-05-01T10:00:00Z", 10, "{}", 1000.0, BlobQuota(0.0)) is None
        store.alerts.record(candidate(key=f"{agent_id}|bulk_id_copy|{OLD}", agent_id=agent_id, day=OLD), 1000.0,
                            0.0, CHANNELS)
    assert store.screenshots.purge(2000.0, {"pc-held"}) == 1
    assert store.screenshots.envelope("pc-held", "b1") == "{}" and store.screenshots.envelope("pc-free", "b1") is None
    assert store.alerts.purge(2000.0, {"pc-held"}) == {"alerts": 1, "alert_deliveries": 2}
    assert [a.agent_id for a in store.alerts.search()] == ["pc-held"]
    assert store.screenshots.purge(2000.0) == 1 and store.alerts.purge(2000.0)["alerts"] == 1


def test_holds_a_day_detached_by_a_purge_that_stopped_is_finished_later(store: SqlStore) -> None:
    if store.is_sqlite:
        pytest.skip("SQLite keeps one events table: no partitions to detach")
    fill(store, "pc-held")
    fill(store, "pc-free")
    with store.writer.connect() as raw:  # what a process that died after DETACH left behind
        raw.execute(text("ALTER TABLE events DETACH PARTITION events_20260501"))
        raw.commit()
    assert kinds_by_day(store, "pc-held")[OLD] == []
    assert store.purge("2026-06-01", 0.0, {}, {"pc-held"})["events"] == 2
    assert kinds_by_day(store, "pc-held")[OLD] == ["app.focus", "clipboard.copy"]
    assert kinds_by_day(store, "pc-free")[OLD] == []
    with store._read() as conn:
        tables = {str(r[0]) for r in conn.execute(text(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'events_2026050%' "
            "AND relnamespace = current_schema()::regnamespace"))}
        attached = conn.execute(text("SELECT relispartition FROM pg_class WHERE relname = 'events_20260501' "
                                     "AND relnamespace = current_schema()::regnamespace")).scalar_one()
    assert tables == {"events_20260501"} and attached is True  # the empty day after it was dropped
    # a detached day of nothing but held rows is attached again, not left out of every query
    with store.writer.connect() as raw:
        raw.execute(text("ALTER TABLE events DETACH PARTITION events_20260501"))
        raw.commit()
    assert store.purge("2026-06-01", 0.0, {}, {"pc-held"})["events"] == 0
    assert kinds_by_day(store, "pc-held")[OLD] == ["app.focus", "clipboard.copy"]


def test_holds_spare_every_held_agent_from_each_kinds_own_period(store: SqlStore) -> None:
    """Two agents held, one not, two kinds with periods of their own (one shorter than the other): each
    kind's cut spares both held agents, on the whole days before the default cut-off and in between."""
    for agent_id in ("pc-held-1", "pc-held-2", "pc-free"):
        fill(store, agent_id)
    cuts = {"clipboard.copy": "2026-11-01", "app.focus": "2026-10-15"}
    out = store.purge("2026-06-01", 0.0, cuts, {"pc-held-1", "pc-held-2"})
    assert out["events"] == 4  # pc-free: both of the old day, the copy and the focus of the middle day
    assert kinds_by_day(store, "pc-free") == {OLD: [], MID: [], NEW: ["app.focus", "clipboard.copy"]}
    every = {day: ["app.focus", "clipboard.copy"] for day in (OLD, MID, NEW)}
    assert kinds_by_day(store, "pc-held-1") == every and kinds_by_day(store, "pc-held-2") == every
    out = store.purge("2026-06-01", 0.0, cuts, {"pc-held-2"})  # pc-held-1's hold lifted
    assert out["events"] == 4 and kinds_by_day(store, "pc-held-1") == kinds_by_day(store, "pc-free")
    assert kinds_by_day(store, "pc-held-2") == every
