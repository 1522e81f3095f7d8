"""Shared state in the database, on every backend (issue 16, item 1; the two-process test is
``tests/test_cluster_two_collectors.py``).

Two stores on one database stand for two collector processes: a policy saved through one is read by
the other within a second, a save based on a replaced version is a conflict, a job runs once
whoever asks, and revision 0009 moves the policy out of ``kv`` and back.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from collector.errors import Conflict
from collector.jobs import JobScheduler
from collector.policy import DEFAULT_POLICY, PolicyService
from collector.storage import schema
from collector.storage.notify import ChangeFeed, PgChangeFeed, open_feed
from collector.storage.sql import SqlStore
from contract.signed_policy import policy_hash
from tests.storage_fixtures import BACKENDS, fresh_url, pg_schema, sql_store
from tests.web_fixtures import World, csrf_of, signed_in


@pytest.fixture(params=BACKENDS)
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    with fresh_url(request.param, tmp_path / "db") as url:
        first = sql_store(url)
        first.create_schema()
        second = sql_store(url)
        second.create_schema()
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def test_a_save_through_one_process_is_read_by_the_other_within_a_second(two_stores: tuple[SqlStore, SqlStore]) -> None:
    feeds = [open_feed(s) for s in two_stores]
    for feed in feeds:
        feed.start()
    try:
        a, b = (PolicyService(s, f) for s, f in zip(two_stores, feeds, strict=True))
        if isinstance(feeds[1], PgChangeFeed):
            assert feeds[1].wait_live(10), "the listening connection never came up"
        assert b.current() == DEFAULT_POLICY
        reloads = b.reloads
        for _ in range(20):  # served from memory while nothing changes: no reload per read
            b.current()
        assert b.reloads == reloads
        saved = a.update({"idle_threshold_s": 200}, expected_version=1, saved_by="root")
        started = time.monotonic()
        while b.current()["version"] != saved["version"]:
            assert time.monotonic() - started < 1.0, "the other process still serves version 1"
            time.sleep(0.01)
        assert b.current() == saved and b.current()["idle_threshold_s"] == 200
        assert b.issued() == a.issued()
        assert b.issued()[1][0] == policy_hash(DEFAULT_POLICY) and b.issued()[2][0] == policy_hash(saved)
    finally:
        for feed in feeds:
            feed.close()


def test_a_reload_that_fails_is_tried_again(two_stores: tuple[SqlStore, SqlStore]) -> None:
    """A notice came, but reading the new version failed (the database was briefly unreachable): the
    process must read it again at its next use, not serve the old version until the next save."""
    feeds = [open_feed(s) for s in two_stores]
    for feed in feeds:
        feed.start()
    try:
        a, b = (PolicyService(s, f) for s, f in zip(two_stores, feeds, strict=True))
        if isinstance(feeds[1], PgChangeFeed):
            assert feeds[1].wait_live(10), "the listening connection never came up"
        assert b.current()["version"] == 1
        saved = a.update({"idle_threshold_s": 200}, expected_version=1)
        started = time.monotonic()
        while isinstance(feeds[1], PgChangeFeed) and feeds[1].received < 1:
            assert time.monotonic() - started < 5, "the save's notice never came"
            time.sleep(0.01)
        time.sleep(b.CHECK_S)  # SQLite: the version check is due
        with two_stores[0]._write() as conn:
            conn.execute(text("ALTER TABLE policy_versions RENAME TO policy_versions_away"))
        try:
            with pytest.raises(Exception, match="policy_versions"):
                b.current()
        finally:
            with two_stores[0]._write() as conn:
                conn.execute(text("ALTER TABLE policy_versions_away RENAME TO policy_versions"))
        started = time.monotonic()
        while b.current()["version"] != saved["version"]:
            assert time.monotonic() - started < 1.0, "the failed reload was never tried again"
            time.sleep(0.01)
        assert b.current() == saved
    finally:
        for feed in feeds:
            feed.close()


def test_a_lost_notice_is_made_up_for_by_the_slow_version_check(two_stores: tuple[SqlStore, SqlStore]) -> None:
    """A listening connection dropped without a word looks live while no notice comes: the newest version
    is still checked every LIVE_CHECK_S."""
    feed = open_feed(two_stores[1])
    feed.start()
    try:
        a = PolicyService(two_stores[0], ChangeFeed())  # its saves tell nobody: the notice is lost
        b = PolicyService(two_stores[1], feed)
        if isinstance(feed, PgChangeFeed):
            assert feed.wait_live(10), "the listening connection never came up"
        b.LIVE_CHECK_S = 3600.0
        assert b.current()["version"] == 1
        saved = a.update({"idle_threshold_s": 200}, expected_version=1)
        time.sleep(b.CHECK_S + 0.1)
        if feed.live:  # PostgreSQL: live, so no check was due and the old version is still served
            assert b.current()["version"] == 1
        b.LIVE_CHECK_S = 0.2
        started = time.monotonic()
        while b.current()["version"] != saved["version"]:
            assert time.monotonic() - started < 1.0, "the lost notice was never made up for"
            time.sleep(0.01)
    finally:
        feed.close()


def test_a_heartbeat_naming_a_version_saved_elsewhere_is_looked_up_at_once(
        two_stores: tuple[SqlStore, SqlStore]) -> None:
    a, b = (PolicyService(s) for s in two_stores)
    assert max(b.issued()) == 1
    a.update({"idle_threshold_s": 120})
    b.CHECK_S = 3600.0  # no version check would come in time: only the heartbeat's version can prompt it
    assert 2 in b.issued(covering=[2]), "a version issued by the other process is known when asked for"


def test_saves_based_on_one_version_conflict_and_unversioned_saves_merge(
        two_stores: tuple[SqlStore, SqlStore]) -> None:
    a, b = (PolicyService(s) for s in two_stores)
    a.update({"idle_threshold_s": 111}, expected_version=1)
    with pytest.raises(Conflict, match="you edited version 1, but version 2 is now in force") as refused:
        b.update({"idle_threshold_s": 222}, expected_version=1)
    assert refused.value.status == 409
    assert b.current()["idle_threshold_s"] == 111
    merged = b.update({"case_absence_s": 900})  # no version: onto whatever is in force
    assert merged["version"] == 3 and merged["idle_threshold_s"] == 111 and merged["case_absence_s"] == 900
    results: list[str] = []
    barrier = threading.Barrier(2)

    def save(service: PolicyService, idle: int) -> None:
        barrier.wait()
        try:
            service.update({"idle_threshold_s": idle}, expected_version=3)
            results.append("saved")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=save, args=(s, n)) for s, n in ((a, 301), (b, 302))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert sorted(results) == ["conflict", "saved"]
    assert a.current()["version"] == 4 and b.current()["idle_threshold_s"] in (301, 302)


def test_a_job_runs_once_whoever_asks_and_each_run_is_recorded(two_stores: tuple[SqlStore, SqlStore],
                                                              tmp_path: Path) -> None:
    a, b = (JobScheduler(s) for s in two_stores)
    ran: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def slow() -> dict[str, Any]:
        ran.append("a")
        inside.set()
        release.wait(10)
        return {"done": 1}

    since = time.time() - 1
    first = threading.Thread(target=lambda: a.run("daily_report", slow, since=since))
    first.start()
    assert inside.wait(10)
    assert b.run("daily_report", lambda: ran.append("b"), since=since) is None, "the job is held by the other"
    release.set()
    first.join(10)
    assert b.run("daily_report", lambda: ran.append("b"), since=since) is None, "it already ran since it was due"
    assert ran == ["a"]
    assert b.run("silence_check", lambda: 0, every_s=60) == "ok"
    assert a.run("silence_check", lambda: 0, every_s=60) is None, "not due again within its period"
    assert a.run("broken", lambda: 1 / 0) == "failed"
    runs = {r["job"]: r for r in b.runs.recent()}
    assert runs["daily_report"]["outcome"] == "ok" and runs["daily_report"]["pid"] == a.pid
    assert runs["daily_report"]["finished"] >= runs["daily_report"]["started"]
    assert json.loads(runs["daily_report"]["detail"]) == {"done": 1}
    assert runs["broken"]["outcome"] == "failed" and "ZeroDivisionError" in runs["broken"]["detail"]
    assert b.stats()["jobs"]["daily_report"]["runs"] == 1
    assert a.run("broken", lambda: None) == "ok", "a failed run does not count as done"


def test_revision_0009_moves_the_policy_out_of_kv_and_back(tmp_path: Path) -> None:
    with fresh_url("sqlite", tmp_path / "db") as url:
        store = sql_store(url)
        try:
            store.create_schema()
            with store._write() as conn:
                schema.downgrade(conn, "0008")
            v3 = {**DEFAULT_POLICY, "version": 3, "idle_threshold_s": 90}
            issued = {"2": {"hash": "ab" * 32, "at": 5.0}, "3": {"hash": policy_hash(v3), "at": 9.0}}
            store.set_kv("policy", json.dumps(v3))
            store.set_kv("policy_issued", json.dumps(issued))
            assert store.migrate() == ("0008", schema.HEAD)
            service = PolicyService(store)
            assert service.current() == v3
            assert service.issued() == {2: ("ab" * 32, 5.0), 3: (policy_hash(v3), 9.0)}
            assert store.get_kv("policy") is None
            with store._write() as conn:
                schema.downgrade(conn, "0008")
            assert json.loads(store.get_kv("policy") or "{}") == v3
            assert json.loads(store.get_kv("policy_issued") or "{}") == issued
            with store._read() as conn:
                assert "policy_versions" not in {r[0] for r in conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
        finally:
            store.close()


def test_the_admin_page_refuses_a_save_based_on_a_replaced_version(tmp_path: Path) -> None:
    world = World(tmp_path / "collector")
    try:
        admin = signed_in(world.app, "root")
        page = admin.get("/admin").text
        shown = int(csrf_of(page, "version"))
        world.collector.policy.update({"idle_threshold_s": 150})  # someone else saves meanwhile
        stale = admin.post("/admin/policy", data={"policy": '{"idle_threshold_s": 240}', "version": str(shown),
                                                  "csrf": csrf_of(page)})
        assert stale.status_code == 409 and "changed meanwhile" in stale.text
        assert world.collector.policy.current()["idle_threshold_s"] == 150
        fresh = admin.post("/admin/policy", data={"policy": '{"idle_threshold_s": 240}', "version": str(shown + 1),
                                                  "csrf": csrf_of(page)})
        assert fresh.status_code == 200 and world.collector.policy.current()["idle_threshold_s"] == 240
        bearer = {"Authorization": f"Bearer {world.collector.accounts.create_token('root')}"}
        api = world.client.post("/api/v1/policy", json={"policy": {"idle_threshold_s": 1}, "version": shown},
                                headers=bearer)
        assert api.status_code == 409 and api.json()["error"]["code"] == "conflict"
        assert world.client.get("/api/v1/policy", headers=bearer).json()["policy"]["idle_threshold_s"] == 240
        assert 'id="job-retention"' not in admin.get("/admin").text
        assert world.collector.jobs.run("retention", lambda: {"removed": 0}) == "ok"
        listing = admin.get("/admin").text
        row = re.search(r'<tr id="job-retention">(.*?)</tr>', listing, re.S)
        assert row and ">1<" in row.group(1) and ">ok<" in row.group(1) and f":{os.getpid()}<" in row.group(1)
    finally:
        world.close()


def test_the_admin_page_refuses_a_version_that_is_no_whole_number(tmp_path: Path) -> None:
    """A form's version that is not plain digits (superscript, circled, thousands of digits, words) is a
    400 that says so: never a 500, never taken for "no version" (the conflict check skipped)."""
    world = World(tmp_path / "collector")
    try:
        admin = signed_in(world.app, "root")
        page = admin.get("/admin").text
        for version in ("²", "①", "1" * 5000, "two", "-1"):
            answer = admin.post("/admin/policy", data={"policy": '{"idle_threshold_s": 240}', "version": version,
                                                       "csrf": csrf_of(page)})
            assert answer.status_code == 400 and "version" in answer.text, (version[:10], answer.status_code)
        assert world.collector.policy.current()["version"] == 1, "nothing was saved"
        blank = admin.post("/admin/policy", data={"policy": '{"idle_threshold_s": 240}', "version": "",
                                                  "csrf": csrf_of(page)})
        assert blank.status_code == 200 and world.collector.policy.current()["idle_threshold_s"] == 240
    finally:
        world.close()


def test_two_processes_updating_one_alert_at_once_neither_loses_the_other(tmp_path: Path) -> None:
    """Collector A and B judge one agent-day at the same moment (its batches reached both) and both find
    the alert's value grew. The second must see the first's update: the higher value stays, and only one
    ``alert.updated`` goes out (the lower candidate is no news), on PostgreSQL under READ COMMITTED too."""
    import psycopg

    from collector.alerts.model import UPDATED, Alert

    def candidate(value: float) -> Alert:
        return Alert(key="pc-1:removable_writes:2026-12-04", rule="removable_writes", severity="high",
                     agent_id="pc-1", team="cs-a", day="2026-12-04", seq=1, title="wrote files",
                     title_zh="写入文件", value=value, threshold=1, reasons=[])

    with pg_schema() as url:
        stores = [sql_store(url), sql_store(url)]
        stores[0].create_schema()
        try:
            first = stores[0].alerts.record(candidate(3), time.time(), 0.0, ()).alert
            schema_name = url.rsplit("%3D", 1)[1]
            with psycopg.connect(url.split("?")[0], options=f"-csearch_path={schema_name}") as locker:
                locker.execute("SELECT id FROM alerts WHERE id = %s FOR UPDATE", (first.id,))  # holds the row
                outcomes: dict[str, Any] = {}

                def record(name: str, store: SqlStore, value: float) -> None:
                    outcomes[name] = store.alerts.record(candidate(value), time.time(), 0.0, ()).event

                def blocked() -> int:
                    with psycopg.connect(url.split("?")[0], autocommit=True) as probe:
                        row = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE pid <> %s AND "
                                            "cardinality(pg_blocking_pids(pid)) > 0 AND query ILIKE '%%alerts%%'",
                                            (locker.info.backend_pid,)).fetchone()
                    return int(row[0]) if row else 0

                threads = []
                for name, store, value in (("a", stores[0], 7.0), ("b", stores[1], 6.0)):  # a waits first
                    thread = threading.Thread(target=record, args=(name, store, value))
                    thread.start()
                    threads.append(thread)
                    deadline = time.monotonic() + 10
                    while blocked() < len(threads):
                        assert time.monotonic() < deadline, "the save never waited for the row"
                        time.sleep(0.02)
                locker.commit()
                for thread in threads:
                    thread.join(20)
            assert stores[1].alerts.get(int(first.id or 0)).value == 7.0, "B's lower value overwrote A's"
            assert outcomes == {"a": UPDATED, "b": None}
        finally:
            for store in stores:
                store.close()


def test_processes_on_a_host_with_a_long_name_are_each_alive(two_stores: tuple[SqlStore, SqlStore],
                                                             tmp_path: Path) -> None:
    """Two collector processes on one host named like a cloud VM (57 characters and more): each holds its
    own lease as an outbox owner (the lease's key was cut to 64 characters, host first, so the second
    process's key was the first's and it never counted as alive)."""
    a, b = (JobScheduler(s) for s in two_stores)
    host = "ip-10-20-30-40.cn-north-1.compute.internal.callcenter.example"
    first, second = f"{host}:4242:0a1b2c3d:aa", f"{host}:4343:4e5f6a7b:bb"
    a.register_process("outbox", first, 60)
    b.register_process("outbox", second, 60)
    assert sorted(a.live_processes("outbox")) == sorted([first, second])
    b.unregister_process("outbox", second)
    assert a.live_processes("outbox") == [first]
