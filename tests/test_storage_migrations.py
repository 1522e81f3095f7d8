"""Schema migrations: a version-1 database (as released) upgrades in place on every backend."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from collector.config import load_settings
from collector.errors import ConfigError, EnrollmentRefused
from collector.migrate import migrate
from collector.migrations.versions.v0001_initial import v1_metadata
from collector.migrations.versions.v0003_alerts_screenshots import v3_tables
from collector.storage import schema
from collector.storage.postgres import driver_url
from collector.storage.sql import SqlStore
from collector.storage.tables import ALERT_TABLES, screenshots
from tests.storage_fixtures import sql_store
from tests.test_storage_backends import batch, ev


def make_v1(url: str, through_alembic: bool) -> None:
    """A version-1 database holding one agent's data: via the initial migration, or as the release made it."""
    engine = create_engine(driver_url(url))
    md = v1_metadata()
    tables = md.tables
    try:
        with engine.begin() as conn:
            if through_alembic:
                schema.upgrade(conn, "0001")
            else:  # what version 1 did: create_all, then the schema_version row
                md.create_all(conn)
                conn.execute(insert(tables["kv"]).values(key="schema_version", value="1"))
            conn.execute(insert(tables["agents"]).values(
                agent_id="pc-1", team="cs-a", role="agent", public_key="k", enrolled_at=1.0, last_seq=3,
                last_batch_seq=1, last_batch_hash="h1", events=3))
            conn.execute(insert(tables["batches"]).values(agent_id="pc-1", batch_seq=1, hash="h1", received_at=1.0,
                                                          n_events=3))
            for e in (ev(1, "2026-11-22"), ev(2, "2026-11-23"), ev(3, "2026-11-23")):
                conn.execute(insert(tables["events"]).values(agent_id="pc-1", seq=e.seq, ts=e.ts, ts_ms=e.ts_ms,
                                                             day=e.day, kind=e.kind, data=e.data))
            conn.execute(insert(tables["rollups"]).values(agent_id="pc-1", day="2026-11-23", state="{}",
                                                          updated_at=1.0))
            conn.execute(insert(tables["audit"]).values(at=1.0, actor="sec", action="read_timeline",
                                                        target="pc-1", allowed=True))
    finally:
        engine.dispose()


@pytest.mark.parametrize("through_alembic", [True, False], ids=["initial-migration", "as-released"])
def test_version_1_upgrades_in_place_and_keeps_working(store_url: str, tmp_path: Path,
                                                       through_alembic: bool) -> None:
    make_v1(store_url, through_alembic)
    store = sql_store(store_url)
    try:
        assert store.schema_revision() == "0001"
        with pytest.raises(ConfigError, match="seatguard-collector migrate"):
            store.create_schema()
        settings = load_settings(tmp_path, {"db_url": store_url})
        assert f"upgraded from revision 0001 to {schema.HEAD}" in migrate(settings)
        assert f"already at revision {schema.HEAD}" in migrate(settings)
        store.create_schema()
        assert store.schema_revision() == schema.HEAD and store.get_kv("schema_version") == str(int(schema.HEAD))
        assert [e["seq"] for e in store.timeline("pc-1", "2026-11-23")] == [2, 3]
        # ingest carries on from the migrated state: seq 3 is known, the chain continues from h1
        out = store.ingest(batch("pc-1", 2, [ev(3, "2026-11-23"), ev(4, "2026-11-24"), ev(5, "2026-11-24")]))
        assert (out.stored, out.duplicates, [k for k, _ in out.integrity]) == (2, 1, ["duplicate_seq"])
        stats = store.stats("pc-1")
        assert stats["events"] == 5 and stats["agent"]["last_seq"] == 5
        assert store.rollups_for_day("2026-11-23") == [("pc-1", {})]
        if not store.is_sqlite:
            with store._read() as conn:
                kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'events'::regclass")).scalar()
                parts = conn.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"))
                assert kind == "p" and parts.scalar() == 4  # 22, 23, 24 and the day after
    finally:
        store.close()


def test_downgrade_and_upgrade_again_keep_the_data(store_url: str) -> None:
    store = sql_store(store_url)
    try:
        store.create_schema()
        store.add_enroll_token("t", "cs-a", "agent", None, 0.0, 4e9)
        store.enroll_agent("t", {"agent_id": "pc-1", "public_key": "k"}, 1.0)
        store.ingest(batch("pc-1", 1, [ev(1, "2026-11-22"), ev(2, "2026-11-23")]))
        with store._write() as conn:
            schema.downgrade(conn, "0001")
        assert store.schema_revision() == "0001"
        assert store.migrate() == ("0001", schema.HEAD)
        assert [e["seq"] for e in store.timeline("pc-1", "2026-11-22")] == [1]
        assert store.stats()["events"] == 2
    finally:
        store.close()


def test_collectors_starting_together_create_the_schema_once(store_url: str) -> None:
    stores = [sql_store(store_url) for _ in range(3)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(s: SqlStore) -> None:
        try:
            barrier.wait()
            s.create_schema()
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=start, args=(s,)) for s in stores]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert errors == []
        assert {s.schema_revision() for s in stores} == {schema.HEAD}
    finally:
        for s in stores:
            s.close()


def test_a_database_newer_than_this_collector_is_refused(store_url: str) -> None:
    store = sql_store(store_url)
    try:
        store.create_schema()
        with store._write() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(ConfigError, match="newer than this collector"):
            store.create_schema()
    finally:
        store.close()


NEW_IN_0003 = ("alerts", "alert_deliveries", "screenshots")


def _columns(url: str) -> dict[str, list[str]]:
    """Every table of the database at ``url``, with its column names."""
    engine = create_engine(driver_url(url))
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            return {name: [c["name"] for c in found.get_columns(name)] for name in found.get_table_names()}
    finally:
        engine.dispose()


def test_revision_0003_creates_the_alert_and_screenshot_tables_as_the_code_defines_them(store_url: str) -> None:
    store = sql_store(store_url)
    try:
        store.create_schema()
    finally:
        store.close()
    columns = _columns(store_url)
    for live in (*ALERT_TABLES, screenshots):
        assert columns[live.name] == [c.name for c in live.columns], live.name
    frozen = {t.name: [c.name for c in t.columns] for t in v3_tables()}
    assert frozen == {t.name: [c.name for c in t.columns] for t in (*ALERT_TABLES, screenshots)}


def test_a_0002_database_whose_collector_made_the_tables_keeps_their_rows(store_url: str, tmp_path: Path) -> None:
    # Collectors at 0002 created the alert and screenshot tables themselves on start; 0003 must adopt them.
    engine = create_engine(driver_url(store_url))
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, "0002")
            for table in ALERT_TABLES:
                table.create(conn)
            conn.execute(insert(ALERT_TABLES[0]).values(
                key="k1", rule="bulk_copy", severity="high", agent_id="pc-1", team="cs-a", day="2026-11-23",
                value=9.0, state="open", raised_at=1.0, updated_at=1.0, body="{}"))
    finally:
        engine.dispose()
    before = _columns(store_url)
    assert before["alerts"] and "screenshots" not in before
    settings = load_settings(tmp_path, {"db_url": store_url})
    assert f"upgraded from revision 0002 to {schema.HEAD}" in migrate(settings)
    assert set(NEW_IN_0003) <= set(_columns(store_url))
    store = sql_store(store_url)
    try:
        store.create_schema()
        with store._read() as conn:
            assert conn.execute(text("SELECT key, rule FROM alerts")).all() == [("k1", "bulk_copy")]
        with store._write() as conn:  # back to 0002: the tables and rows stay for a 0002 collector
            schema.downgrade(conn, "0002")
        assert store.schema_revision() == "0002" and store.get_kv("schema_version") == "2"
        assert store.migrate() == ("0002", schema.HEAD)
        with store._read() as conn:
            assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 1
    finally:
        store.close()


def test_revision_0004_keys_existing_agents_even_lookalikes_enrolled_before_it(store_url: str) -> None:
    engine = create_engine(driver_url(store_url))
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, "0003")
            for n, agent_id in enumerate(("pc-a1", "PC-A1", "pc-b2")):
                conn.execute(text("INSERT INTO agents (agent_id, team, role, public_key, enrolled_at, last_seq, "
                                  "last_batch_seq, events) VALUES (:a, 'cs-a', 'agent', 'k', :t, 0, 0, 0)"),
                             {"a": agent_id, "t": float(n)})
            schema.upgrade(conn, "0004")
            keys = dict(conn.execute(text("SELECT agent_id, id_key FROM agents")).all())
            schema.upgrade(conn)  # on to the newest revision, which the store needs
    finally:
        engine.dispose()
    assert keys == {"pc-a1": "pc-a1", "PC-A1": "pc-a1|PC-A1", "pc-b2": "pc-b2"}
    store = sql_store(store_url)
    try:
        store.create_schema()
        store.add_enroll_token("t", "cs-a", "agent", None, 0.0, 4e9, name="Pc-B2")
        with pytest.raises(EnrollmentRefused) as refused:
            store.enroll_agent("t", {"agent_id": "Pc-B2", "public_key": "k"}, 9.0)
        assert refused.value.code == "agent_id_lookalike"
        with store._write() as conn:  # and back: 0003 has neither column
            schema.downgrade(conn, "0003")
        assert "id_key" not in _columns(store_url)["agents"] and "name" not in _columns(store_url)["enroll_tokens"]
    finally:
        store.close()


def test_revision_0006_names_the_agent_of_old_audit_records_and_scopes_blob_ids_per_agent(store_url: str) -> None:
    engine = create_engine(driver_url(store_url))
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, "0005")
            conn.execute(text("INSERT INTO agents (agent_id, id_key, team, role, public_key, enrolled_at, last_seq, "
                              "last_batch_seq, events) VALUES ('pc-a1', 'pc-a1', 'cs-a', 'agent', 'k', 1, 0, 0, 0)"))
            for action, target in (("read_timeline", "pc-a1"), ("read_screenshot", "pc-a1/b1"),
                                   ("ack_alert", "7 pc-a1"), ("read_report", "2026-11-23")):
                conn.execute(text("INSERT INTO audit (at, actor, action, target, allowed) "
                                  "VALUES (1, 'sec', :a, :t, true)"), {"a": action, "t": target})
            conn.execute(text("INSERT INTO screenshots (agent_id, blob_id, sealed_at, received_at, size, envelope) "
                              "VALUES ('pc-a1', 'b1', 's', 1, 3, 'e')"))
            schema.upgrade(conn, "0006")
            named = dict(conn.execute(text("SELECT action, agent_id FROM audit")).all())
            conn.execute(text("INSERT INTO screenshots (agent_id, blob_id, sealed_at, received_at, size, envelope) "
                              "VALUES ('pc-b1', 'b1', 's', 2, 3, 'e')"))  # another agent's same blob_id
            schema.upgrade(conn)  # on to the newest revision: what the store below expects
    finally:
        engine.dispose()
    assert named == {"read_timeline": "pc-a1", "read_screenshot": "pc-a1", "ack_alert": "pc-a1",
                     "read_report": None}
    store = sql_store(store_url)
    try:
        store.migrate()  # on to the newest revision
        with store._read() as conn:
            assert conn.execute(text("SELECT count(*) FROM screenshots WHERE blob_id = 'b1'")).scalar() == 2
        with pytest.raises(IntegrityError), store._write() as conn:  # still unique for one agent
            conn.execute(text("INSERT INTO screenshots (agent_id, blob_id, sealed_at, received_at, size, envelope) "
                              "VALUES ('pc-b1', 'b1', 's', 3, 3, 'e')"))
        with store._write() as conn:
            conn.execute(text("DELETE FROM screenshots WHERE agent_id = 'pc-b1'"))
            schema.downgrade(conn, "0005")
        assert "agent_id" not in _columns(store_url)["audit"]
        assert store.migrate() == ("0005", schema.HEAD)
    finally:
        store.close()


def test_revision_0007_moves_a_labels_snapshot_out_of_its_note_and_back(store_url: str) -> None:
    from collector.reports import _label

    old = '{"score": 0.71, "rules": ["after_hours"], "values": {"outside_shift_min": 95.0}, "note": "rota"}'
    engine = create_engine(driver_url(store_url))
    try:
        with engine.begin() as conn:
            schema.upgrade(conn, "0006")
            for agent_id, note in (("pc-a1", old), ("pc-a2", "{braces in a note"), ("pc-a3", "")):
                conn.execute(text("INSERT INTO labels (agent_id, day, label, reviewer, note, at) "
                                  "VALUES (:a, '2026-11-23', 'benign', 'sec.li', :n, 1)"), {"a": agent_id, "n": note})
            schema.upgrade(conn, "0007")
            rows = {r[0]: r[1:] for r in conn.execute(text("SELECT agent_id, note, snapshot, pattern FROM labels"))}
    finally:
        engine.dispose()
    assert rows["pc-a1"][0] == "rota" and rows["pc-a1"][2] is None
    assert '"rules": ["after_hours"]' in rows["pc-a1"][1] and "rota" not in rows["pc-a1"][1]
    assert rows["pc-a2"] == ("{braces in a note", None, None) and rows["pc-a3"] == ("", None, None)
    store = sql_store(store_url)
    try:
        store.migrate()  # on to the newest revision
        labels = {row["agent_id"]: _label(row) for row in store.reports.labels()}
        a1 = labels["pc-a1"]
        assert (a1.note, a1.score, a1.rules) == ("rota", 0.71, ("after_hours",))
        assert a1.pattern is not None and a1.pattern.items == {"rule:after_hours", "outside_shift_min+"}
        assert labels["pc-a2"].note == "{braces in a note" and labels["pc-a2"].pattern is None
        store.reports.save_label("pc-a4", "2026-11-24", "confirmed", "sec.wang", "seen", 2.0,
                         '{"score": 0.9, "pattern": {"rules": [], "features": ["copied_ids+"]}}', "copied_ids+")
        a4 = _label(next(r for r in store.reports.labels() if r["agent_id"] == "pc-a4"))
        assert a4.pattern is not None and a4.pattern.items == {"copied_ids+"}
        with store._write() as conn:
            schema.downgrade(conn, "0006")
        assert "snapshot" not in _columns(store_url)["labels"]
        with store._read() as conn:
            notes = {str(a): str(n) for a, n in conn.execute(text("SELECT agent_id, note FROM labels"))}
        assert '"note": "rota"' in notes["pc-a1"] and '"note": "seen"' in notes["pc-a4"]
        assert notes["pc-a2"] == "{braces in a note"
        assert _label({"agent_id": "pc-a1", "day": "2026-11-23", "label": "benign", "reviewer": "sec.li",
                       "note": notes["pc-a1"]}).note == "rota"        # what a 0006 row reads as
        assert store.migrate() == ("0006", schema.HEAD)
    finally:
        store.close()
