"""Need-to-know across agents (issue 15, item 2), on hand-written rollups and through a real collector.

A customer page counts as "without a case" only when nobody in scope had a case for that customer that
day; one a colleague in scope had a case for is a review (``reviewed_customers``). Customer keys are an
HMAC under the deployment's secret of the identifier found before masking: the stored rollups hold no
identifier and no plain hash of one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from collector.cli import main as collector_main
from collector.customer_secret import SECRET_FILE
from collector.errors import ConfigError
from collector.service import Collector
from contract import wire
from contract.pattern_search import PolicyPattern
from contract.schema import format_ts
from detectors.bounds import MAX_CUSTOMERS
from detectors.context import AgentContext
from detectors.need_to_know import CustomerKeyer, CustomerSets, judge, judged_features
from detectors.rollup import DayRollup
from tests.conftest import DATA_DIRS, RAW_IDS
from tests.storage_fixtures import BACKENDS, fresh_url

DAY = date(2026, 11, 23)
PATTERNS = [PolicyPattern(r"/customers?/(\d+)")]


def _ev(seq: int, hhmm: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"schema": 1, "agent_id": "x", "seq": seq, "ts": f"2026-11-23T{hhmm}:00.000+08:00", "kind": kind,
            **fields}


def _page(seq: int, hhmm: str, customer: str, case: str | None = None) -> dict[str, Any]:
    url = f"https://crm.internal/customers/{customer}" + (f"?case={case}" if case else "")
    return _ev(seq, hhmm, "page.open", url=url, title="客户详情", app="chrome")


def _case(seq: int, hhmm: str, case: str, minutes: int) -> list[dict[str, Any]]:
    h, m = (int(x) for x in hhmm.split(":"))
    end = f"{h + (m + minutes) // 60:02d}:{(m + minutes) % 60:02d}"
    return [_ev(seq, hhmm, "case.open", case_id=case, app="crm", title=case),
            _ev(seq + 1, end, "case.close", case_id=case, active_s=minutes * 60, idle_s=0, wall_s=minutes * 60)]


def _rollup(agent: str, team: str, role: str, events: list[dict[str, Any]], keyer: CustomerKeyer) -> DayRollup:
    r = DayRollup.new(AgentContext(agent, team, role), DAY)
    for e in sorted(events, key=lambda e: e["ts"]):
        e = {**e, "agent_id": agent}
        r.add(e, keyer.find(e["url"], PATTERNS) if e["kind"] == "page.open" else None)
    return r


def _fleet(keyer: CustomerKeyer) -> dict[str, DayRollup]:
    return {
        # agent col-a1 handles customer 5550001 (case number in the page) and 5550002 (opened while the case is open)
        "col-a1": _rollup("col-a1", "col-a", "agent", [
            *_case(1, "09:00", "C-2026-0000001", 20), _page(3, "09:01", "5550001", "C-2026-0000001"),
            _page(4, "09:05", "5550002")], keyer),
        # the lead reviews both later, with no case of their own
        "lead-a": _rollup("lead-a", "col-a", "lead", [
            _page(1, "14:00", "5550001"), _page(2, "14:02", "5550002"), _page(3, "14:03", "5550002")], keyer),
        # col-a2 opens a customer nobody had a case for, and one only another team handled
        "col-a2": _rollup("col-a2", "col-a", "agent", [
            _page(1, "11:00", "7770001"), _page(2, "11:30", "8880001")], keyer),
        "col-b1": _rollup("col-b1", "col-b", "agent", [
            *_case(1, "10:00", "C-2026-0000009", 15), _page(3, "10:01", "8880001", "C-2026-0000009")], keyer),
    }


def _judged(fleet: dict[str, DayRollup], scope: str) -> dict[str, dict[str, float]]:
    feats = judged_features({a: {DAY: r} for a, r in fleet.items()}, scope=scope)
    return {a: per_day[DAY] for a, per_day in feats.items()}


def test_own_rollups_alone_call_the_leads_reviews_caseless() -> None:
    fleet = _fleet(CustomerKeyer.ephemeral())
    assert fleet["lead-a"].features()["pages_without_case"] == 3
    assert fleet["col-a1"].features()["pages_without_case"] == 0   # 5550002 was opened under the case
    assert fleet["col-a2"].features()["pages_without_case"] == 2


def test_team_scope_reviews_are_not_caseless_and_other_teams_do_not_count() -> None:
    f = _judged(_fleet(CustomerKeyer.ephemeral()), "team")
    assert (f["lead-a"]["pages_without_case"], f["lead-a"]["reviewed_customers"]) == (0, 2)
    assert (f["col-a2"]["pages_without_case"], f["col-a2"]["reviewed_customers"]) == (2, 0)
    assert (f["col-a1"]["pages_without_case"], f["col-a1"]["reviewed_customers"]) == (0, 0)
    assert (f["col-b1"]["pages_without_case"], f["col-b1"]["reviewed_customers"]) == (0, 0)


def _page_kinds(evidence: Any) -> list[str]:
    return [e["kind"] for e in evidence if e["kind"] in ("page_without_case", "reviewed_customer")]


def test_evidence_shows_reviews_as_reviews() -> None:
    fleet = _fleet(CustomerKeyer.ephemeral())
    verdicts = judge([(a, r.ctx.team, r.customer_sets()) for a, r in fleet.items()])
    lead = fleet["lead-a"].evidence(reviewed=verdicts["lead-a"].reviewed_keys)
    assert _page_kinds(lead) == ["reviewed_customer"] * 3
    assert "colleague had a case" in next(e["what"] for e in lead if e["kind"] == "reviewed_customer")
    other = fleet["col-a2"].evidence(reviewed=verdicts["col-a2"].reviewed_keys)
    assert _page_kinds(other) == ["page_without_case"] * 2


def test_fleet_scope_counts_another_teams_case() -> None:
    f = _judged(_fleet(CustomerKeyer.ephemeral()), "fleet")
    assert (f["col-a2"]["pages_without_case"], f["col-a2"]["reviewed_customers"]) == (1, 1)
    assert (f["lead-a"]["pages_without_case"], f["lead-a"]["reviewed_customers"]) == (0, 2)


def test_an_own_case_later_in_the_day_makes_earlier_pages_not_caseless() -> None:
    keyer = CustomerKeyer.ephemeral()
    r = _rollup("col-a3", "col-a", "agent", [
        _page(1, "09:00", "6660001"), *_case(2, "15:00", "C-2026-0000005", 10),
        _page(4, "15:01", "6660001", "C-2026-0000005")], keyer)
    sets = r.customer_sets()
    assert len(sets.cased) == 1 and sets.uncased and not sets.unkeyed
    assert judge([("col-a3", "col-a", sets)])["col-a3"].pages_without_case == 0


def test_keys_are_keyed_and_state_holds_no_identifier_or_plain_hash() -> None:
    a, b = CustomerKeyer(b"a" * 32), CustomerKeyer(b"b" * 32)
    assert a.ref("5550001") == a.ref("５５５０００１")   # the same customer in full-width digits
    assert a.ref("5550001") != b.ref("5550001")
    fleet = _fleet(a)
    state = orjson.dumps([r.to_state() for r in fleet.values()]).decode()
    for number in ("5550001", "5550002", "7770001", "8880001"):
        assert number not in state
        for digest in (hashlib.sha256(number.encode()).hexdigest(), hashlib.md5(number.encode()).hexdigest(),
                       hashlib.blake2b(number.encode(), digest_size=5).hexdigest()):
            assert digest[:10] not in state
        assert a.ref(number).key in state


def test_a_flood_of_customers_stays_bounded_and_every_page_still_counts() -> None:
    keyer = CustomerKeyer.ephemeral()
    n = MAX_CUSTOMERS + 500
    r = DayRollup.new(AgentContext("col-x", "col-a"), DAY)
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC) - timedelta(hours=8)
    for i in range(n):
        ts = format_ts(start + timedelta(seconds=i * 3))
        url = f"https://crm.internal/customers/{10_000_000 + i}"
        r.add({"schema": 1, "agent_id": "col-x", "seq": i + 1, "ts": ts, "kind": "page.open", "url": url,
               "title": "", "app": "chrome"}, keyer.find(url, PATTERNS))
    sets = r.customer_sets()
    assert len(sets.uncased) <= MAX_CUSTOMERS and len(r.to_state()["customers"]) <= MAX_CUSTOMERS
    assert sum(sets.uncased.values()) + sets.unkeyed == n
    assert judge([("col-x", "col-a", sets)])["col-x"].pages_without_case == n
    assert r.features()["rollup_bound_hits"] >= 1


def test_sets_from_an_older_state_keep_working() -> None:
    r = _fleet(CustomerKeyer.ephemeral())["lead-a"]
    old = r.to_state()
    for key in ("cased", "uncased", "unkeyed"):
        old.pop(key)
    old["customers"] = [12345, 67890]  # a plain hash, as stored before keys
    old["cust_pages"] = [p[:3] for p in old["cust_pages"]]
    back = DayRollup.from_state(r.ctx, old)
    assert back.customer_sets() == CustomerSets(frozenset(), {}, 3)
    assert back.features()["customers_viewed"] == 2


def test_stored_sets_match_the_restored_rollups() -> None:
    for r in _fleet(CustomerKeyer.ephemeral()).values():
        state = orjson.loads(orjson.dumps(r.to_state()))
        assert DayRollup.stored_customer_sets(state) == DayRollup.from_state(r.ctx, state).customer_sets()
        assert DayRollup.stored_customer_sets(state) == r.customer_sets()


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(Exception, match="scope"):
        judge([], "galaxy")


# ---------------------------------------------------------------------- through a real collector
class _Fleet:
    def __init__(self, data: Path, scope: str = "team", db_url: str | None = None) -> None:
        assert collector_main(["init", "--data", str(data), *(["--db", db_url] if db_url else [])]) == 0
        DATA_DIRS.append(data)
        with (data / "collector.toml").open("a", encoding="utf-8") as fh:
            fh.write(f'need_to_know_scope = "{scope}"\n')
        self.data = data
        self.collector = Collector.open(data)
        from collector.api import create_app

        self.client = TestClient(create_app(self.collector), base_url="http://t")
        self.agents: dict[str, dict[str, Any]] = {}

    def enroll(self, name: str, team: str, role: str = "agent") -> None:
        key = wire.new_agent_key()
        token = self.collector.enrollment.create_token(team, role)
        answer = self.client.post("/api/v1/enroll", json={
            "token": token, "public_key": wire.public_key_b64(key.public_key()), "name": name})
        assert answer.status_code == 200, answer.text
        self.agents[name] = {"key": key, "collector": wire.load_x25519_public(answer.json()["collector_key"]),
                             "prev": wire.GENESIS_HASH, "batch": 0, "seq": 0}

    def send(self, name: str, day: date, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        a = self.agents[name]
        events = []
        for hhmm, kind, fields in items:
            a["seq"] += 1
            ts = datetime.fromisoformat(f"{day.isoformat()}T{hhmm}:00+08:00")
            events.append({"schema": 1, "agent_id": name, "seq": a["seq"], "ts": format_ts(ts), "kind": kind,
                           **fields})
        a["batch"] += 1
        body, a["prev"] = wire.seal_batch(agent_id=name, batch_seq=a["batch"], prev_batch_hash=a["prev"],
                                          events=events, sealed_at=format_ts(datetime.now(UTC)),
                                          collector_key=a["collector"], agent_key=a["key"])
        answer = self.client.post("/api/v1/batches", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 200 and answer.json()["stored"] == len(events), answer.text

    def close(self) -> None:
        self.client.close()
        self.collector.close()


def _page_fields(customer: str, case: str | None = None) -> dict[str, Any]:
    url = f"https://crm.internal/customers/{customer}" + (f"?case={case}" if case else "")
    return {"url": url, "title": f"客户详情 {customer}", "app": "chrome"}


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    with fresh_url(request.param, tmp_path / "db") as url:
        yield None if request.param == "sqlite" else url


def test_collector_judges_across_agents_with_national_id_customers(tmp_path: Path, db_url: str | None) -> None:
    """Customers named by a national ID in the URL: masking leaves ``**************002X`` in the stored URL,
    yet the lead's review matches the agent's case, and nothing stored holds the ID."""
    f = _Fleet(tmp_path / "c", db_url=db_url)
    try:
        day = datetime.now(f.collector.settings.tz).date() - timedelta(days=1)
        idc = RAW_IDS[0]
        for name, team, role in (("col-a1", "col-a", "agent"), ("lead-a", "col-a", "lead"),
                                 ("col-a2", "col-a", "agent"), ("col-b1", "col-b", "agent")):
            f.enroll(name, team, role)
        case = "C-2026-0000001"
        f.send("col-a1", day, [("09:00", "case.open", {"case_id": case, "app": "crm", "title": case}),
                               ("09:01", "page.open", _page_fields(idc, case)),
                               ("09:20", "case.close", {"case_id": case, "active_s": 1200, "idle_s": 0,
                                                        "wall_s": 1200})])
        f.send("lead-a", day, [("14:00", "page.open", _page_fields(idc)), ("14:05", "page.open", _page_fields(idc))])
        f.send("col-a2", day, [("11:00", "page.open", _page_fields("7770001")),
                               ("11:10", "page.open", _page_fields(RAW_IDS[1]))])
        f.send("col-b1", day, [("10:00", "case.open", {"case_id": "C-2026-0000002", "app": "crm", "title": "x"}),
                               ("10:01", "page.open", _page_fields(RAW_IDS[1], "C-2026-0000002")),
                               ("10:10", "case.close", {"case_id": "C-2026-0000002", "active_s": 540, "idle_s": 0,
                                                        "wall_s": 540})])
        f.collector.reports.build(day.isoformat())
        history = f.collector.store.feature_history(day.isoformat(), day.isoformat())
        got = {a: (h[0]["pages_without_case"], h[0]["reviewed_customers"]) for a, h in history.items()}
        assert got == {"col-a1": (0, 0), "lead-a": (0, 1), "col-a2": (2, 0), "col-b1": (0, 0)}
        lead = next(i for i in f.collector.reports._inputs(day) if i.ctx.agent_id == "lead-a")
        assert _page_kinds(lead.evidence) == ["reviewed_customer"] * 2
        states = orjson.dumps(f.collector.store.rollups_for_day(day.isoformat())).decode()
        for raw in RAW_IDS[:2]:
            assert raw not in states and raw[:17] not in states
            assert hashlib.sha256(raw[:17].encode()).hexdigest()[:10] not in states
        timeline = orjson.dumps(f.collector.store.timeline("lead-a", day.isoformat())).decode()
        assert "**************002X" in timeline and idc not in timeline
        secret = tmp_path / "c" / SECRET_FILE
        assert secret.stat().st_size == 32 and (secret.stat().st_mode & 0o777) == 0o600
    finally:
        f.close()


def test_fleet_scope_setting_counts_other_teams(tmp_path: Path, db_url: str | None) -> None:
    f = _Fleet(tmp_path / "c", scope="fleet", db_url=db_url)
    try:
        day = datetime.now(f.collector.settings.tz).date() - timedelta(days=1)
        f.enroll("col-a2", "col-a")
        f.enroll("col-b1", "col-b")
        f.send("col-a2", day, [("11:10", "page.open", _page_fields("8880001"))])
        f.send("col-b1", day, [("10:01", "page.open", _page_fields("8880001", "C-2026-0000002"))])
        f.collector.reports.build(day.isoformat())
        history = f.collector.store.feature_history(day.isoformat(), day.isoformat())
        assert (history["col-a2"][0]["pages_without_case"], history["col-a2"][0]["reviewed_customers"]) == (0, 1)
    finally:
        f.close()


def test_a_collector_with_another_secret_refuses_to_start(tmp_path: Path) -> None:
    f = _Fleet(tmp_path / "c")
    f.close()
    (tmp_path / "c" / SECRET_FILE).write_bytes(os.urandom(32))
    with pytest.raises(ConfigError, match=SECRET_FILE):
        Collector.open(tmp_path / "c")


def _nk(f: _Fleet, day: date) -> dict[str, tuple[float, float]]:
    history = f.collector.store.feature_history(day.isoformat(), day.isoformat())
    return {a: (h[0]["pages_without_case"], h[0]["reviewed_customers"]) for a, h in history.items()}


def test_a_late_batch_after_the_days_report_is_judged_again(tmp_path: Path, db_url: str | None) -> None:
    """col-a1 is offline on the day and uploads its case for customer 5550001 after the day's report: the
    late batch re-saves its own figures, and the lead's page, judged "without a case" by the report, is a
    review once the case is known. The next report judges the day again from its rollups; a shift entered
    afterwards recomputes the features without undoing the judged figures."""
    from collector.reports import _JUDGED_KV, ReportService
    from collector.shifts import CLI

    f = _Fleet(tmp_path / "c", db_url=db_url)
    try:
        tz = f.collector.settings.tz
        today = datetime.now(tz).date()
        day = today - timedelta(days=1)
        for name, team, role in (("col-a1", "col-a", "agent"), ("lead-a", "col-a", "lead"),
                                 ("col-a2", "col-a", "agent")):
            f.enroll(name, team, role)
        f.send("lead-a", day, [("14:00", "page.open", _page_fields("5550001"))])
        f.send("col-a2", day, [("11:00", "page.open", _page_fields("7770001"))])
        f.collector.reports.build(day.isoformat())
        assert _nk(f, day) == {"lead-a": (1, 0), "col-a2": (1, 0)}
        reports: ReportService = f.collector.reports
        judged = f.collector.store.get_kv(_JUDGED_KV.format(day=day.isoformat()))
        assert judged is not None and judged.startswith("team:")

        case = "C-2026-0000001"  # days later: col-a1's day arrives, and one more page of the lead
        f.send("col-a1", day, [("09:00", "case.open", {"case_id": case, "app": "crm", "title": case}),
                               ("09:01", "page.open", _page_fields("5550001", case)),
                               ("09:20", "case.close", {"case_id": case, "active_s": 1200, "idle_s": 0,
                                                        "wall_s": 1200})])
        f.send("lead-a", day, [("15:00", "page.open", _page_fields("5550001")),
                               ("15:05", "page.open", _page_fields("7770001"))])
        # what ingest alone leaves: each late agent-day's own figures, the day still marked as judged
        assert _nk(f, day) == {"lead-a": (3, 0), "col-a2": (1, 0), "col-a1": (0, 0)}
        assert f.collector.store.get_kv(_JUDGED_KV.format(day=day.isoformat())) == judged

        reports.compute(today)  # the next report: its history is judged again
        assert _nk(f, day) == {"lead-a": (1, 1), "col-a2": (1, 0), "col-a1": (0, 0)}
        again = f.collector.store.get_kv(_JUDGED_KV.format(day=day.isoformat()))
        assert again is not None and again != judged and again.startswith("team:")
        reports.compute(today)  # nothing changed since: the day is not judged a third time
        assert f.collector.store.get_kv(_JUDGED_KV.format(day=day.isoformat())) == again

        # overtime entered afterwards recomputes the lead's stored features and keeps the judged figures
        answer = f.collector.shifts.set(CLI, "lead-a", [day.isoformat()], "13:00", "16:00", overtime=True)
        assert answer["recomputed"] == [day.isoformat()]
        assert _nk(f, day)["lead-a"] == (1, 1)
        assert f.collector.store.get_kv(_JUDGED_KV.format(day=day.isoformat())) == again
    finally:
        f.close()


def test_history_judgement_reads_the_versions_before_the_states(tmp_path: Path) -> None:
    """A batch that lands while a report judges the day (after the versions were read) leaves a digest
    that no longer matches, so the day is judged again by the next report, never marked judged with
    figures older than its rollups."""
    from collector.reports import _JUDGED_KV

    f = _Fleet(tmp_path / "c")
    try:
        today = datetime.now(f.collector.settings.tz).date()
        day = today - timedelta(days=1)
        f.enroll("col-a1", "col-a")
        f.enroll("lead-a", "col-a", "lead")
        f.send("lead-a", day, [("14:00", "page.open", _page_fields("5550001"))])
        store = f.collector.store
        real, landed = store.rollups_for_day, []

        def late_batch_meanwhile(iso: str) -> list[tuple[str, dict[str, Any]]]:
            states = real(iso)  # the states as the report reads them, then col-a1's batch lands
            if iso == day.isoformat() and not landed:
                landed.append(iso)
                f.send("col-a1", day, [("09:00", "page.open", _page_fields("5550001", "C-2026-0000001"))])
            return states

        store.rollups_for_day = late_batch_meanwhile  # type: ignore[method-assign]
        f.collector.reports.compute(today)
        store.rollups_for_day = real  # type: ignore[method-assign]
        assert _nk(f, day)["lead-a"] == (1, 0)  # judged without the batch that landed meanwhile
        first = store.get_kv(_JUDGED_KV.format(day=day.isoformat()))
        f.collector.reports.compute(today)
        assert _nk(f, day) == {"lead-a": (0, 1), "col-a1": (0, 0)}
        assert store.get_kv(_JUDGED_KV.format(day=day.isoformat())) != first
    finally:
        f.close()


def test_a_day_saved_while_under_way_gets_its_features_from_the_report(tmp_path: Path, db_url: str | None) -> None:
    """Ingest saves a day still under way without its features; the day's report computes them from the
    stored state, the same figures (need-to-know judged) as for an agent-day whose batch came after the
    day and was saved with them, and a day still under way is left alone."""
    f = _Fleet(tmp_path / "c", db_url=db_url)
    try:
        store = f.collector.store
        just_now = datetime.now(f.collector.settings.tz) - timedelta(minutes=1)
        today = just_now.date()
        day = today - timedelta(days=1)
        case = "C-2026-0000002"
        items = [("09:00", "app.focus", {"app": "crm.exe", "title": "CRM", "pid": 7}),
                 ("09:05", "case.open", {"case_id": case, "app": "crm", "title": case}),
                 ("09:06", "page.open", _page_fields("5550003", case)),
                 ("09:30", "case.close", {"case_id": case, "active_s": 1500, "idle_s": 0, "wall_s": 1500}),
                 ("10:00", "page.open", _page_fields("5550004")),
                 ("19:40", "app.focus", {"app": "chrome.exe", "title": "after hours", "pid": 9})]
        for name in ("pc-live", "pc-late"):
            f.enroll(name, "col-b")
        f.collector.rollups.today = lambda: day.isoformat()  # pc-live's batch lands while the day is on
        f.send("pc-live", day, items)
        f.collector.rollups.today = lambda: today.isoformat()  # pc-late's after it
        f.send("pc-late", day, items)
        assert store.rollups_without_features(day.isoformat(), day.isoformat()) == [("pc-live", day.isoformat())]
        assert set(store.feature_history(day.isoformat(), day.isoformat())) == {"pc-late"}

        f.send("pc-late", today, [(just_now.strftime("%H:%M"), "app.focus", {"app": "crm.exe", "title": "CRM",
                                                                              "pid": 7})])  # today: under way
        assert store.rollups_without_features(today.isoformat(), today.isoformat()) == [
            ("pc-late", today.isoformat())]
        assert f.collector.reports.fill_features(day, today) == 1  # yesterday's row only

        f.collector.reports.build(day.isoformat())
        assert store.rollups_without_features(day.isoformat(), day.isoformat()) == []
        history = store.feature_history(day.isoformat(), day.isoformat())
        assert history["pc-live"] == history["pc-late"]
        assert history["pc-live"][0]["pages_without_case"] == 1 and history["pc-live"][0]["focus_switches"] > 0
        assert store.rollups_without_features(today.isoformat(), today.isoformat()) == [
            ("pc-late", today.isoformat())]
    finally:
        f.close()


def test_a_finished_days_report_stores_the_features_it_computed(tmp_path: Path, db_url: str | None) -> None:
    """The report of a finished day saved while under way stores the (judged) features it computed for
    it, without a separate pass over the day's states."""
    f = _Fleet(tmp_path / "c", db_url=db_url)
    try:
        store = f.collector.store
        day = datetime.now(f.collector.settings.tz).date() - timedelta(days=1)
        items = [("10:00", "page.open", _page_fields("5550005")), ("10:05", "page.open", _page_fields("5550006"))]
        for name in ("pc-live", "pc-late"):
            f.enroll(name, "col-c")
        f.collector.rollups.today = lambda: day.isoformat()
        f.send("pc-live", day, items)
        f.collector.rollups.today = lambda: (day + timedelta(days=1)).isoformat()
        f.send("pc-late", day, items)
        assert store.rollups_without_features(day.isoformat(), day.isoformat()) == [("pc-live", day.isoformat())]
        f.collector.reports.build(day.isoformat())
        assert store.rollups_without_features(day.isoformat(), day.isoformat()) == []
        history = store.feature_history(day.isoformat(), day.isoformat())
        assert history["pc-live"] == history["pc-late"] and history["pc-live"][0]["pages_without_case"] == 2
    finally:
        f.close()
