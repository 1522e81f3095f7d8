"""The storage contract, run on every backend: SQLite (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import inspect, select, text

from collector.errors import EnrollmentRefused
from collector.storage import BatchWrite, QuarantinedEvent, StoredEvent, schema
from collector.storage import tables as t
from collector.storage.sql import SqlStore
from tests.storage_fixtures import fresh_url, sql_store

GENESIS = "0" * 64


def enroll(store: SqlStore, agent_id: str, token: str | None = None) -> None:
    token = token or f"tok-{agent_id}"
    store.add_enroll_token(token, "cs-a", "agent", None, 0.0, 4e9)
    store.enroll_agent(token, {"agent_id": agent_id, "public_key": "k" * 44}, 1.0)


def ev(seq: int, day: str = "2026-11-23", ms: int | None = None, title: str = "") -> StoredEvent:
    ts = f"{day}T10:00:00.000+08:00"
    body = {"schema": 1, "agent_id": "x", "seq": seq, "ts": ts, "kind": "app.focus", "app": "a", "title": title,
            "pid": 1}
    return StoredEvent(seq, ts, seq if ms is None else ms, day, "app.focus", orjson.dumps(body).decode(), body)


def batch(agent_id: str, batch_seq: int, events: list[StoredEvent], prev: str | None = None,
          quarantined: list[QuarantinedEvent] | None = None) -> BatchWrite:
    prev_hash = prev if prev is not None else (GENESIS if batch_seq == 1 else f"h{batch_seq - 1}")
    return BatchWrite(agent_id, batch_seq, f"h{batch_seq}", prev_hash, events, quarantined or [], 1000.0)


def test_new_database_is_at_the_newest_revision_and_create_is_idempotent(store: SqlStore) -> None:
    assert store.schema_revision() == schema.HEAD
    store.create_schema()
    assert store.get_kv("schema_version") == str(t.SCHEMA_VERSION)
    assert store.migrate() == (schema.HEAD, schema.HEAD)


def test_the_head_constant_is_the_newest_migration() -> None:
    assert schema.revisions()[0] == schema.HEAD
    assert int(schema.HEAD) == t.SCHEMA_VERSION


def test_migrated_schema_matches_the_table_model(store: SqlStore) -> None:
    """One source of truth: what the migrations build is what the queries are written against."""
    with store._read() as conn:
        insp = inspect(conn)
        tables = set(insp.get_table_names())
        for table in t.metadata.sorted_tables:
            assert table.name in tables
            have = {c["name"]: c for c in insp.get_columns(table.name)}
            for column in table.columns:
                assert column.name in have, f"{table.name}.{column.name} missing"
                assert have[column.name]["nullable"] == column.nullable, f"{table.name}.{column.name} nullability"
            pk = insp.get_pk_constraint(table.name)["constrained_columns"]
            if table.name == "events" and store.is_sqlite:
                assert pk == ["id"]  # SQLite keeps the version-1 table: rowid id, unique (agent_id, seq)
                continue
            assert sorted(pk) == sorted(c.name for c in table.primary_key), table.name
            indexed = {tuple(i["column_names"]) for i in insp.get_indexes(table.name)}
            for index in table.indexes:
                assert tuple(c.name for c in index.columns) in indexed, f"{table.name}: {index.name}"


def test_enrollment_tokens_are_single_use(store: SqlStore) -> None:
    enroll(store, "pc-1", "tok")
    with pytest.raises(EnrollmentRefused, match="already used"):
        store.enroll_agent("tok", {"agent_id": "pc-2", "public_key": "k"}, 2.0)
    store.add_enroll_token("tok2", "cs-a", "agent", ("09:00", "18:00"), 0.0, 4e9)
    with pytest.raises(EnrollmentRefused, match="already in use"):
        store.enroll_agent("tok2", {"agent_id": "pc-1", "public_key": "k"}, 2.0)
    assert [a["agent_id"] for a in store.list_agents(["cs-a"])] == ["pc-1"]
    assert store.revoke_agent("pc-1", 3.0) and not store.revoke_agent("nobody", 3.0)


def test_one_token_used_at_once_by_two_collectors_enrolls_one_agent(store_url: str, store: SqlStore) -> None:
    store.add_enroll_token("tok", "cs-a", "agent", None, 0.0, 4e9)
    other = sql_store(store_url)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use(s: SqlStore, name: str) -> None:
        barrier.wait()
        try:
            s.enroll_agent("tok", {"agent_id": name, "public_key": "k"}, 1.0)
            outcomes.append("enrolled")
        except EnrollmentRefused as exc:
            outcomes.append(exc.code)

    try:
        threads = [threading.Thread(target=use, args=(s, n)) for s, n in ((store, "pc-1"), (other, "pc-2"))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert sorted(outcomes) == ["enrolled", "token_used"]
        assert len(store.list_agents()) == 1
    finally:
        other.close()


def test_lookalike_ids_enrolling_at_once_on_two_collectors_get_one_agent(store_url: str, store: SqlStore) -> None:
    """The agents' unique id_key decides, even between collector processes: one enrolls, one is refused."""
    store.add_enroll_token("t1", "cs-a", "agent", None, 0.0, 4e9)
    store.add_enroll_token("t2", "cs-a", "agent", None, 0.0, 4e9)
    other = sql_store(store_url)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use(s: SqlStore, token: str, name: str) -> None:
        barrier.wait()
        try:
            s.enroll_agent(token, {"agent_id": name, "public_key": "k"}, 1.0)
            outcomes.append("enrolled")
        except EnrollmentRefused as exc:
            outcomes.append(exc.code)

    try:
        threads = [threading.Thread(target=use, args=args)
                   for args in ((store, "t1", "pc-x1"), (other, "t2", "PC-X1"))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert sorted(outcomes) == ["agent_id_lookalike", "enrolled"]
        assert len(store.list_agents()) == 1 and store.id_key_taken("Pc-x1") and not store.id_key_taken("pc-x2")
    finally:
        other.close()


def test_ingest_stores_dedupes_and_tracks_sequence(store: SqlStore) -> None:
    enroll(store, "pc-1")
    first = store.ingest(batch("pc-1", 1, [ev(i) for i in range(1, 11)]))
    assert (first.status, first.stored, first.integrity) == ("stored", 10, [])
    assert store.ingest(batch("pc-1", 1, [ev(i) for i in range(1, 11)])).status == "duplicate"
    other = batch("pc-1", 1, [ev(1)])
    other.batch_hash = "something else"
    assert store.ingest(other).status == "conflict"
    # seqs 9..12 again in a new batch, one of them twice: only 11 and 12 are new
    again = store.ingest(batch("pc-1", 2, [ev(9), ev(10), ev(11), ev(11), ev(12)]))
    assert (again.stored, again.duplicates) == (2, 3)
    assert [k for k, _ in again.integrity] == ["duplicate_seq"]
    stats = store.stats("pc-1")
    assert stats["events"] == 12 and stats["batches"] == 2
    assert stats["agent"]["last_seq"] == 12 and stats["agent"]["last_batch_seq"] == 2
    assert store.get_agent("pc-1")["events"] == 12  # type: ignore[index]


def test_gaps_chain_breaks_and_quarantine(store: SqlStore) -> None:
    enroll(store, "pc-1")
    store.ingest(batch("pc-1", 1, [ev(1), ev(2)]))
    bad = [QuarantinedEvent(5, "unknown kind", "{}"), QuarantinedEvent(None, "not an object", "[]")]
    out = store.ingest(batch("pc-1", 3, [ev(6)], prev="f" * 64, quarantined=bad))
    assert out.quarantined == 2
    assert sorted(k for k, _ in out.integrity) == ["batch_gap", "seq_gap"]
    out = store.ingest(batch("pc-1", 4, [ev(7)], prev="not h3"))
    assert [k for k, _ in out.integrity] == ["chain_break"]
    assert store.stats("pc-1")["gaps"] == {"batch_gap": 1, "seq_gap": 1, "chain_break": 1}
    assert len(store.quarantined("pc-1")) == 2 and store.stats()["quarantined"] == 2
    assert {r["kind"] for r in store.integrity_records("pc-1")} == {"batch_gap", "seq_gap", "chain_break"}


def test_timeline_is_one_day_in_time_order(store: SqlStore) -> None:
    enroll(store, "pc-1")
    events = [ev(1, ms=300), ev(2, ms=100), ev(3, ms=200), ev(4, "2026-11-24", ms=50), ev(5, "2026-11-22", ms=1)]
    store.ingest(batch("pc-1", 1, events))
    assert [e["seq"] for e in store.timeline("pc-1", "2026-11-23")] == [2, 3, 1]
    assert [e["seq"] for e in store.timeline("pc-1", "2026-11-24")] == [4]
    assert store.timeline("pc-1", "2026-11-25") == [] and store.timeline("pc-9", "2026-11-23") == []


def test_a_failing_rollup_hook_undoes_the_whole_batch(store: SqlStore) -> None:
    enroll(store, "pc-1")
    calls: list[int] = []

    def hook(access: Any, agent_id: str, events: list[StoredEvent], integrity: Any) -> None:
        calls.append(len(events))
        access.save(agent_id, events[0].day, {"n": len(events)}, existed=False)
        if len(calls) == 1:
            raise RuntimeError("rollup failed")

    with pytest.raises(RuntimeError):
        store.ingest(batch("pc-1", 1, [ev(1), ev(2)]), hook)
    assert store.stats()["events"] == 0 and store.batch_hash("pc-1", 1) is None
    assert store.ingest(batch("pc-1", 1, [ev(1), ev(2)]), hook).stored == 2
    assert store.rollups_for_day("2026-11-23") == [("pc-1", {"n": 2})]


def test_counters_settings_reports_and_labels_upsert(store: SqlStore) -> None:
    for _ in range(3):
        store.count_rejection("malformed")
    store.count_rejection("too_large")
    assert store.stats()["rejections"] == {"malformed": 3, "too_large": 1}
    store.set_kv("policy", "a")
    store.set_kv("policy", "b")
    assert store.get_kv("policy") == "b" and store.get_kv("nothing") is None
    store.reports.save("2026-11-23", "one", 1.0)
    store.reports.save("2026-11-23", "two", 2.0)
    assert store.reports.load("2026-11-23") == "two"
    store.reports.save_label("pc-1", "2026-11-23", "benign", "sec", "", 1.0)
    store.reports.save_label("pc-1", "2026-11-23", "confirmed", "sec", "", 2.0)
    assert [r["label"] for r in store.reports.labels()] == ["confirmed"]


def test_retention_removes_whole_old_days(store: SqlStore) -> None:
    enroll(store, "pc-1")
    days = ["2026-05-01", "2026-05-02", "2026-11-23"]
    store.ingest(batch("pc-1", 1, [ev(i + 1, day) for i, day in enumerate(days)]))
    store.reports.save("2026-05-01", "old", 1.0)
    out = store.purge("2026-05-03", 0.0)
    assert out["events"] == 2 and out["reports"] == 1
    assert store.stats()["events"] == 1 and store.timeline("pc-1", "2026-05-01") == []
    assert store.purge("2026-05-03", 0.0)["events"] == 0
    # an event of a purged day that still arrives later is stored (and goes at the next purge)
    assert store.ingest(batch("pc-1", 2, [ev(4, "2026-05-01")])).stored == 1
    assert [e["seq"] for e in store.timeline("pc-1", "2026-05-01")] == [4]


def test_the_same_batch_from_many_threads_is_stored_once(store_url: str, store: SqlStore) -> None:
    """Two collector processes = two stores with their own connection pools on one database."""
    enroll(store, "pc-1")
    other = sql_store(store_url)
    try:
        stores = [store, other] * 4
        barrier = threading.Barrier(len(stores))
        outcomes: list[str] = []

        def send(s: Any) -> None:
            barrier.wait()
            outcomes.append(s.ingest(batch("pc-1", 1, [ev(i) for i in range(1, 201)])).status)

        threads = [threading.Thread(target=send, args=(s,)) for s in stores]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert sorted(outcomes) == ["duplicate"] * 7 + ["stored"]
        assert store.stats("pc-1")["events"] == 200 and store.stats("pc-1")["gaps"] == {}
    finally:
        other.close()


def test_agents_spread_over_two_stores_lose_and_double_nothing(store_url: str, store: SqlStore) -> None:
    """Each agent's batches alternate between two stores; every third batch is also re-sent at once to the
    other store; agents run in parallel. Sequence and chain bookkeeping must come out clean."""
    agents = [f"pc-{i}" for i in range(4)]
    for a in agents:
        enroll(store, a)
    other = sql_store(store_url)
    n_batches, per = 30, 50
    errors: list[BaseException] = []

    def agent(agent_id: str) -> None:
        try:
            for b in range(1, n_batches + 1):
                write = batch(agent_id, b, [ev((b - 1) * per + i, title=agent_id) for i in range(1, per + 1)])
                target, twin = (store, other) if b % 2 else (other, store)
                if b % 3 == 0:
                    racers = [threading.Thread(target=s.ingest, args=(write,)) for s in (target, twin)]
                    for r in racers:
                        r.start()
                    for r in racers:
                        r.join(60)
                else:
                    target.ingest(write)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=agent, args=(a,)) for a in agents]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        assert errors == []
        for a in agents:
            stats = store.stats(a)
            assert stats["events"] == n_batches * per and stats["batches"] == n_batches
            assert stats["gaps"] == {}, a
            assert stats["agent"]["last_seq"] == n_batches * per
            assert stats["agent"]["last_batch_seq"] == n_batches
        with store._read() as conn:
            seqs = [r[0] for r in conn.execute(select(t.events.c.seq).where(t.events.c.agent_id == "pc-0"))]
        assert sorted(seqs) == list(range(1, n_batches * per + 1))
    finally:
        other.close()


def test_concurrent_batches_of_one_agent_apply_one_after_the_other(store_url: str, store: SqlStore) -> None:
    """Different batches of one agent at the same moment on two stores: the agent's state and its
    rollups (read-modify-write inside the ingest transaction) must see every batch exactly once."""
    enroll(store, "pc-1")
    other = sql_store(store_url)
    n_batches, per = 40, 25

    def count_per_day(access: Any, agent_id: str, events: list[StoredEvent], integrity: Any) -> None:
        state = access.load(agent_id, "2026-11-23")
        n = 0 if state is None else state["n"]
        access.save(agent_id, "2026-11-23", {"n": n + len(events)}, existed=state is not None)

    writes = [batch("pc-1", b, [ev((b - 1) * per + i) for i in range(1, per + 1)]) for b in range(1, n_batches + 1)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            barrier.wait()
            for w in writes[k::8]:
                (store if k % 2 else other).ingest(w, count_per_day)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        assert errors == []
        stats = store.stats("pc-1")
        assert stats["events"] == n_batches * per and stats["batches"] == n_batches
        assert stats["agent"]["last_seq"] == n_batches * per and stats["agent"]["last_batch_seq"] == n_batches
        assert store.rollups_for_day("2026-11-23") == [("pc-1", {"n": n_batches * per})]
        assert store.get_agent("pc-1")["events"] == n_batches * per  # type: ignore[index]
    finally:
        other.close()


@pytest.mark.postgres
def test_postgres_partitions_are_made_on_demand_even_when_collectors_race(tmp_path: Path) -> None:
    with fresh_url("postgresql", tmp_path) as url:
        stores = [sql_store(url) for _ in range(4)]
        try:
            stores[0].create_schema()
            for i in range(4):
                enroll(stores[0], f"pc-{i}")
            barrier = threading.Barrier(4)
            errors: list[BaseException] = []

            def run(i: int) -> None:
                try:
                    barrier.wait()
                    stores[i].ingest(batch(f"pc-{i}", 1, [ev(1, "2027-01-31"), ev(2, "2027-02-01")]))
                except BaseException as exc:  # collected and re-raised in the test thread
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(60)
            assert errors == []
            with stores[0]._read() as conn:
                names = {r[0] for r in conn.execute(text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'events'::regclass"))}
                kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'events'::regclass")).scalar()
            assert kind == "p"
            assert names == {"events_20270131", "events_20270201", "events_20270202"}
            assert stores[0].stats()["events"] == 8
            # one collector's retention drops a day that another one still believes exists
            assert stores[1].purge("2027-02-01", 0.0)["events"] == 4
            assert stores[2].ingest(batch("pc-2", 2, [ev(3, "2027-01-31")])).stored == 1
            assert [e["seq"] for e in stores[3].timeline("pc-2", "2027-01-31")] == [3]
        finally:
            for s in stores:
                s.close()
