"""The repositories behind :class:`collector.storage.base.Store`, run on every backend (SQLite, PostgreSQL).

Each area's repository has tests here named ``test_<store attribute>_...``; a test below checks
that every repository the interface declares has some (in this module or another
``tests/test_storage_*.py``), and that no collector module outside ``collector/storage`` opens a
connection or declares tables.
"""

from __future__ import annotations

import ast
import inspect
import re
import threading
from pathlib import Path

import pytest

from collector.storage import StoredEvent
from collector.storage.accounts import User
from collector.storage.base import Store
from collector.storage.sql import SqlStore
from tests.storage_fixtures import sql_store

ROOT = Path(__file__).resolve().parent.parent


def user(name: str, role: str = "security", teams: tuple[str, ...] = (), failed: int = 0) -> User:
    return User(name, role, teams, None, "argon2-hash-" + name, failed, None, 100.0, False)


# -- the interface ------------------------------------------------------------------------------------
def repositories() -> list[str]:
    return sorted(n for n, v in inspect.getmembers(Store) if isinstance(v, property) and
                  getattr(v.fget, "__isabstractmethod__", False))


def test_every_repository_the_interface_declares_has_backend_tests() -> None:
    names: set[str] = set()
    for path in (ROOT / "tests").glob("test_storage_*.py"):
        names |= {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
    assert {"accounts", "api_tokens", "sessions", "audit", "job_runs", "policy_versions", "wall"} <= set(
        repositories())
    untested = [r for r in repositories() if not any(n.startswith(f"test_{r}_") for n in names)]
    assert untested == []


def test_the_backends_implement_the_interface_and_add_no_public_method_to_it() -> None:
    from collector.storage.postgres import PostgresStore
    from collector.storage.sqlite import SqliteStore

    declared = {n for n in dir(Store) if not n.startswith("_")}
    for backend in (SqliteStore, PostgresStore):
        assert {n for n in dir(backend) if not n.startswith("_")} - declared == set(), backend.__name__
        assert not backend.__abstractmethods__, backend.__name__


def test_every_table_is_declared_on_the_one_metadata() -> None:
    from collector.storage import tables as t

    found = []
    for path in (ROOT / "collector").rglob("*.py"):
        if "migrations" in path.parts or path == ROOT / "collector" / "storage" / "tables.py":
            continue
        if re.search(r"\bMetaData\(|\bTable\(", path.read_text()):
            found.append(str(path.relative_to(ROOT)))
    assert found == []
    assert {"alerts", "alert_deliveries", "screenshots", "users", "job_runs", "policy_versions"} <= set(
        t.metadata.tables)


def test_no_module_outside_storage_opens_a_connection_or_writes_sql() -> None:
    """Outside ``collector/storage`` (and the migrations): no ``store._read()``/``_write()``, no SQLAlchemy,
    no table of ``collector.storage.tables``."""
    sql = re.compile(r"\._(read|write)\(\)|^\s*(from|import) sqlalchemy\b|storage import tables\b|storage\.tables\b",
                     re.M)
    found = set()
    for path in (ROOT / "collector").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(("collector/storage/", "collector/migrations/")) and sql.search(path.read_text()):
            found.add(rel)
    assert found == set()


# -- store.accounts -----------------------------------------------------------------------------------
def test_accounts_add_find_list_and_refuse_a_taken_name(store: SqlStore) -> None:
    repo = store.accounts
    assert not repo.any() and repo.get("ann") is None
    assert repo.add(user("ann", "manager", ("cs-a", "cs-b")))
    assert repo.add(user("bob"))
    assert not repo.add(user("ann", "admin"))
    assert repo.any()
    assert repo.get("ann") == user("ann", "manager", ("cs-a", "cs-b"))
    assert [u.name for u in repo.all()] == ["ann", "bob"] and repo.all()[1].teams == ()


def test_accounts_disable_and_count_failures_with_backoff(store: SqlStore) -> None:
    repo = store.accounts
    repo.add(user("ann"))
    assert repo.set_disabled("ann", True) and repo.get("ann").disabled  # type: ignore[union-attr]
    assert not repo.set_disabled("nobody", True)
    backoff = {1: 0.0, 2: 30.0, 3: 60.0}
    assert repo.count_failure("ann", 1000.0, 3, lambda n: backoff[n]) == (1, 0.0)
    assert repo.get("ann").locked_until is None  # type: ignore[union-attr]
    assert repo.count_failure("ann", 1000.0, 3, lambda n: backoff[n]) == (2, 30.0)
    assert repo.get("ann").locked_until == 1030.0  # type: ignore[union-attr]
    repo.count_failure("ann", 1000.0, 3, lambda n: backoff[n])
    assert repo.count_failure("ann", 2000.0, 3, lambda n: backoff[n]) == (3, 60.0)  # capped at 3
    assert repo.count_failure("nobody", 1000.0, 3, lambda n: 0.0) is None
    repo.clear_failures("ann")
    found = repo.get("ann")
    assert found is not None and (found.failed, found.locked_until) == (0, None)


def test_accounts_one_name_added_at_once_on_two_stores_is_stored_once(store_url: str, store: SqlStore) -> None:
    other = sql_store(store_url)
    try:
        outcomes: list[bool] = []
        start = threading.Barrier(8)

        def add(s: SqlStore, i: int) -> None:
            start.wait()
            outcomes.append(s.accounts.add(user("ann", teams=(f"t{i}",))))

        threads = [threading.Thread(target=add, args=((store, other)[i % 2], i)) for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(outcomes) == [False] * 7 + [True]
        assert len(store.accounts.all()) == 1
    finally:
        other.close()


# -- store.api_tokens ---------------------------------------------------------------------------------
def test_api_tokens_need_a_user_and_are_listed_oldest_first(store: SqlStore) -> None:
    repo = store.api_tokens
    assert not repo.add("a" * 64, "ann", 1.0, 2.0)
    store.accounts.add(user("ann"))
    store.accounts.add(user("bob"))
    assert repo.add("b" * 64, "ann", 20.0, 200.0)
    assert repo.add("c" * 64, "bob", 10.0, 100.0)
    assert repo.get("a" * 64) is None
    assert repo.get("b" * 64) == {"token_hash": "b" * 64, "user": "ann", "created_at": 20.0, "expires_at": 200.0,
                                  "revoked_at": None}
    assert [r["token_hash"][0] for r in repo.all()] == ["c", "b"]
    assert [r["token_hash"][0] for r in repo.all("ann")] == ["b"]


def test_api_tokens_revoke_by_prefix_or_a_users_live_ones(store: SqlStore) -> None:
    repo = store.api_tokens
    store.accounts.add(user("ann"))
    repo.add("ab" + "0" * 62, "ann", 1.0, 100.0)
    repo.add("ac" + "0" * 62, "ann", 1.0, 100.0)
    repo.add("dd" + "0" * 62, "ann", 1.0, 5.0)  # expired by 50.0
    assert repo.revoke(50.0, hash_prefix="ab") == ["ab" + "0" * 62]
    assert repo.revoke(50.0, hash_prefix="ab") == []  # already revoked
    assert repo.revoke(60.0, user="ann") == ["ac" + "0" * 62]
    revoked = {r["token_hash"][:2]: r["revoked_at"] for r in repo.all()}
    assert revoked == {"ab": 50.0, "ac": 60.0, "dd": None}


# -- store.sessions -----------------------------------------------------------------------------------
def test_sessions_add_find_replace_list_by_prefix_and_drop(store: SqlStore) -> None:
    repo = store.sessions
    repo.add("sess:aa", '{"user": "ann"}')
    repo.add("sess:bb", '{"user": "bob"}')
    store.set_kv("other", "x")  # a kv row that is no session
    assert repo.get("sess:aa") == '{"user": "ann"}' and repo.get("sess:zz") is None
    repo.replace("sess:aa", '{"user": "ann", "seen": 2}')
    repo.replace("sess:gone", "{}")  # dropped meanwhile: nothing happens
    assert repo.get("sess:gone") is None
    assert sorted(repo.with_prefix("sess:")) == [("sess:aa", '{"user": "ann", "seen": 2}'),
                                                 ("sess:bb", '{"user": "bob"}')]
    repo.drop(["sess:aa", "sess:nope"])
    repo.drop([])
    assert repo.with_prefix("sess:") == [("sess:bb", '{"user": "bob"}')] and store.get_kv("other") == "x"


# -- store.audit --------------------------------------------------------------------------------------
def test_audit_records_are_searched_newest_first_by_part_of_a_field(store: SqlStore) -> None:
    from collector.storage.audit import AuditRecord

    repo = store.audit
    repo.add([AuditRecord(10.0, "Ann", "read_timeline", "pc-1 2026-11-23", True, "10.0.0.1", "pc-1")])
    repo.add([AuditRecord(20.0, "bob", "read_report", "2026-11-23", True, None, a) for a in ("pc-1", "pc-2")])
    repo.add([AuditRecord(30.0, "eve", "read_timeline", "pc-9", False)])
    repo.add([])
    assert [(r["actor"], r["agent_id"]) for r in repo.search()] == [("eve", None), ("bob", "pc-2"),
                                                                    ("bob", "pc-1"), ("Ann", "pc-1")]
    assert [r["actor"] for r in repo.search(actor="an")] == ["Ann"]  # a part, any case
    assert [r["actor"] for r in repo.search(action="TIMELINE")] == ["eve", "Ann"]
    assert {r["actor"] for r in repo.search(target="pc-2")} == {"bob"}  # whose data it showed
    assert [r["actor"] for r in repo.search(allowed=False)] == ["eve"]
    assert [r["at"] for r in repo.search(since=20.0, until=30.0)] == [20.0, 20.0]
    assert len(repo.search(limit=1)) == 1 and len(repo.search(limit=0)) == 1
    assert repo.search(actor="100%_") == []  # LIKE wildcards are text
    first = repo.search(actor="ann")[0]
    assert first["remote"] == "10.0.0.1" and first["allowed"] is True and first["target"] == "pc-1 2026-11-23"


def test_audit_of_agent_lists_who_looked_newest_first(store: SqlStore) -> None:
    from collector.storage.audit import AuditRecord

    repo = store.audit
    repo.add([AuditRecord(float(i), f"u{i}", "read_timeline", "pc-1", True, None, "pc-1") for i in range(5)])
    repo.add([AuditRecord(9.0, "x", "read_timeline", "pc-2", True, None, "pc-2")])
    assert [r["actor"] for r in repo.of_agent("pc-1", limit=3)] == ["u4", "u3", "u2"]
    assert repo.of_agent("pc-3") == []


# -- store.job_runs -----------------------------------------------------------------------------------
def test_job_runs_record_summarise_and_purge(store: SqlStore) -> None:
    repo = store.job_runs
    first = repo.start("retention", 100.0, "host-a", 11)
    repo.finish(first, 101.0, "ok", "x" * 5000)
    second = repo.start("retention", 200.0, "host-b", 12)
    repo.finish(second, 201.0, "failed", "boom")
    repo.start("daily_report", 150.0, "host-a", 11)
    assert repo.last_ok_started("retention") == 100.0 and repo.last_ok_started("daily_report") is None
    assert [r["id"] for r in repo.recent(job="retention")] == [second, first]
    assert len(repo.recent(limit=1)) == 1
    assert len(repo.recent(job="retention")[1]["detail"]) == 2000
    summary = repo.summary()
    assert summary["retention"] == {"runs": 2, "last_started": 200.0, "last_finished": 201.0,
                                    "last_outcome": "failed", "last_host": "host-b", "last_pid": 12}
    assert summary["daily_report"]["last_outcome"] == "running"
    assert repo.purge(150.0) == 1 and repo.summary()["retention"]["runs"] == 1


def test_job_runs_leases_and_live_holders(store: SqlStore) -> None:
    repo = store.job_runs
    assert repo.take_lease("job", "a", 100.0, 10.0)
    assert not repo.take_lease("job", "b", 105.0, 10.0)
    assert repo.take_lease("job", "a", 105.0, 10.0)  # the holder renews
    assert repo.take_lease("job", "b", 116.0, 10.0)  # expired: someone else takes it
    repo.drop_lease("job", "a")  # not a's any more: stays
    assert not repo.take_lease("job", "a", 117.0, 10.0)
    repo.drop_lease("job", "b")
    assert repo.take_lease("job", "a", 117.0, 10.0)
    repo.take_lease("outbox:p1", "p1", 100.0, 50.0)
    repo.take_lease("outbox:p2", "p2", 100.0, 5.0)
    repo.take_lease("outboxer:p3", "p3", 100.0, 50.0)
    assert repo.live_holders("outbox:", 110.0) == ["p1"]
    assert sorted(repo.live_holders("outbox:", 101.0)) == ["p1", "p2"]


def test_job_runs_hold_is_one_holder_at_a_time_across_stores(store_url: str, store: SqlStore) -> None:
    import time

    other = sql_store(store_url)
    try:
        now = time.time()
        with store.job_runs.hold("daily_report", "a", now, 600.0) as got:
            assert got
            with other.job_runs.hold("daily_report", "b", now, 600.0) as second:
                assert not second
            with other.job_runs.hold("retention", "b", now, 600.0) as another_job:
                assert another_job
        with other.job_runs.hold("daily_report", "b", now, 600.0) as after:
            assert after  # released when the first block ended
        assert type(store.job_runs).__name__ == ("SqlJobRunRepo" if store.is_sqlite else "PgJobRunRepo")
    finally:
        other.close()


# -- store.policy_versions ----------------------------------------------------------------------------
def test_policy_versions_save_is_a_compare_and_set_on_the_version(store: SqlStore) -> None:
    from collector.errors import Conflict
    from collector.storage.policy_versions import PolicyVersion

    repo = store.policy_versions
    assert repo.newest_version() is None and repo.all() == []
    notified: list[object] = []
    repo.save(1, [PolicyVersion(1, {"version": 1}, "h1", 1.0), PolicyVersion(2, {"version": 2, "a": 1}, "h2", 2.0)],
              "ann", notify=notified.append)
    assert repo.newest_version() == 2 and len(notified) == 1
    with pytest.raises(Conflict):
        repo.save(1, [PolicyVersion(2, {"version": 2, "a": 2}, "h2b", 3.0)], "bob")
    repo.save(2, [PolicyVersion(2, {"version": 2}, "ignored", 0.0), PolicyVersion(3, {"version": 3}, "h3", 4.0)],
              None)
    assert [(v.version, v.hash) for v in repo.all()] == [(1, "h1"), (2, "h2"), (3, "h3")]
    assert repo.all()[1].body == {"version": 2, "a": 1} and repo.all()[2].saved_at == 4.0


def test_policy_versions_two_stores_saving_one_version_at_once_land_once(store_url: str, store: SqlStore) -> None:
    from collector.errors import Conflict
    from collector.storage.policy_versions import PolicyVersion

    other = sql_store(store_url)
    try:
        start = threading.Barrier(6)
        won: list[int] = []

        def save(s: SqlStore, i: int) -> None:
            start.wait()
            try:
                s.policy_versions.save(1, [PolicyVersion(2, {"version": 2, "by": i}, f"h{i}", 1.0)], f"u{i}")
                won.append(i)
            except Conflict:
                pass

        threads = [threading.Thread(target=save, args=((store, other)[i % 2], i)) for i in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(won) == 1
        assert [(v.version, v.body) for v in store.policy_versions.all()] == [(2, {"version": 2, "by": won[0]})]
    finally:
        other.close()


# -- store.wall ---------------------------------------------------------------------------------------
def test_wall_day_facts_are_the_newest_events_of_the_agent_day(store: SqlStore) -> None:
    from tests.test_storage_backends import batch, enroll

    enroll(store, "pc-1")
    day = "2026-11-23"
    assert store.wall.day_facts("pc-1", day) == {"last_kind": None, "last_ts": None, "app": None, "input": None,
                                                  "cases": 0}
    events = [_event(1, day, 1000, "app.focus", app="crm"), _event(2, day, 3000, "input.idle", threshold_s=300),
              _event(3, day, 2000, "app.focus", app="mail"), _event(4, day, 2500, "case.close", case_id="C-1"),
              _event(5, day, 2600, "case.close", case_id="C-2"), _event(6, "2026-11-24", 9000, "app.focus", app="x")]
    store.ingest(batch("pc-1", 1, events))
    facts = store.wall.day_facts("pc-1", day)
    assert facts == {"last_kind": "input.idle", "last_ts": f"{day}T00:00:03.000+08:00", "app": "mail",
                     "input": "input.idle", "cases": 2}
    assert store.wall.day_facts("pc-2", day)["last_kind"] is None


def _event(seq: int, day: str, ms: int, kind: str, **fields: object) -> StoredEvent:
    import orjson

    ts = f"{day}T00:00:{ms // 1000:02d}.000+08:00"
    body = {"schema": 1, "agent_id": "pc-1", "seq": seq, "ts": ts, "kind": kind, **fields}
    return StoredEvent(seq, ts, ms, day, kind, orjson.dumps(body).decode(), body)


# -- the store's own enrollment rows ------------------------------------------------------------------
def test_enroll_tokens_are_listed_newest_first(store: SqlStore) -> None:
    for i in range(4):
        store.add_enroll_token(f"hash{i}", "cs-a", "agent", None, float(i), 4e9)
    assert [r["token_hash"] for r in store.enroll_tokens(3)] == ["hash3", "hash2", "hash1"]
    assert store.enroll_tokens()[0]["team"] == "cs-a"
