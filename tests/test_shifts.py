"""Outside-shift time judged by what happens in it, and shifts entered per agent and day (issue 15 item 4).

Hand-written days, not the simulator: casework past the shift at the usual pace is overtime (no
outside-shift reason or rule), caseless customer look-ups and copies at night are snooping (their own
rule and reason), and a shift or overtime entered per day (CLI, API, web form) applies to that day only,
also when it is entered after the day's events arrived.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from fastapi.testclient import TestClient

from collector.cli import main as collector_main
from collector.shifts import CLI, BadShift, day_context, parse_days
from collector.storage.shifts import days_between
from contract.schema import format_ts
from detectors.context import AgentContext
from detectors.reasons import explain
from detectors.rollup import DayRollup
from detectors.rules import RuleSet
from detectors.scoring import AgentDayInput, score_day
from simulator.testing.alerts import SealedAgent, open_collector

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)
OUTSIDE_FEATURES = {"outside_shift_min", "night_min", "outside_shift_lookups"}
OUTSIDE_RULES = {"after_hours", "after_hours_lookups", "night_work"}


def at(day: date, hhmm: str, sec: int = 0) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(h, m), TZ) + timedelta(seconds=sec)


def casework(day: date, start: str, end: str, case_min: int = 8, gap_min: int = 2,
             tag: str = "") -> list[dict[str, Any]]:
    """A case every case_min + gap_min minutes (wrap-up in the gap), input every minute, page with the case."""
    out: list[dict[str, Any]] = []
    t, stop, n = at(day, start), at(day, end), 0
    while t + timedelta(minutes=case_min) <= stop:
        n += 1
        case = f"C-{day.year}-{int(tag or '0') * 100000 + day.toordinal() % 1000 * 100 + n:07d}"
        out.append({"kind": "case.open", "ts": t, "case_id": case, "app": "crm", "title": case})
        out.append({"kind": "page.open", "ts": t + timedelta(seconds=5), "app": "chrome", "title": f"案件 {case}",
                    "url": f"https://crm.internal/customers/{4100 + n}?case={case}"})
        for m in range(case_min + gap_min):
            out.append({"kind": "app.focus", "ts": t + timedelta(minutes=m, seconds=30), "app": "crm",
                        "title": "客户工作台", "pid": 10})
        close = t + timedelta(minutes=case_min)
        out.append({"kind": "case.close", "ts": close, "case_id": case, "active_s": case_min * 60, "idle_s": 0,
                    "wall_s": case_min * 60})
        t = close + timedelta(minutes=gap_min)
    return out


def snooping(day: date, start: str, minutes: int) -> list[dict[str, Any]]:
    """Customer pages with no case, every two minutes, a phone copied from every other one."""
    out: list[dict[str, Any]] = []
    for k in range(minutes // 2):
        t = at(day, start) + timedelta(minutes=2 * k)
        out.append({"kind": "page.open", "ts": t, "app": "chrome", "title": "客户资料",
                    "url": f"https://crm.internal/customers/{880000 + k}"})
        out.append({"kind": "app.focus", "ts": t + timedelta(seconds=50), "app": "crm", "title": "客户资料", "pid": 10})
        if k % 2:
            out.append({"kind": "clipboard.copy", "ts": t + timedelta(seconds=20), "app": "crm", "title": "客户资料",
                        "trigger": "hotkey", "chars": 11, "classes": {"id_number": 0, "phone": 1, "bank_card": 0},
                        "action": "allowed"})
    return out


def idle_browsing(day: date, start: str, minutes: int) -> list[dict[str, Any]]:
    """Activity with no case and no customer data (a browser on the knowledge base)."""
    return [{"kind": "page.open", "ts": at(day, start) + timedelta(minutes=m), "app": "chrome", "title": "知识库",
             "url": f"https://kb.internal/articles/{m}"} for m in range(minutes)]


def peers(n: int = 7) -> list[AgentDayInput]:
    """A team's ordinary day: casework through the shift."""
    people = [ctx(f"pc-{k}") for k in range(1, n + 1)]
    return [AgentDayInput(c, rollup(c, casework(DAY, "09:00", "18:00", tag=str(k))).features())
            for k, c in enumerate(people, 1)]


def rollup(ctx: AgentContext, events: list[dict[str, Any]], day: date = DAY) -> DayRollup:
    r = DayRollup.new(ctx, day)
    for seq, e in enumerate(sorted(events, key=lambda e: e["ts"]), 1):
        r.add({"schema": 1, "agent_id": ctx.agent_id, "seq": seq, **e, "ts": format_ts(e["ts"])})
    return r


def ctx(agent_id: str, **kw: Any) -> AgentContext:
    return AgentContext(agent_id=agent_id, team="cs-a", **kw)


def fired(features: dict[str, float]) -> set[str]:
    return {h.rule.name for h in RuleSet().evaluate(features)}


# -- the features and rules -------------------------------------------------------------------------------
def test_overtime_with_cases_at_the_usual_pace_is_not_outside_the_shift() -> None:
    feats = rollup(ctx("pc-ot"), casework(DAY, "09:00", "21:00")).features()
    assert feats["cases_closed"] >= 70
    assert feats["outside_shift_min"] <= 5 and feats["outside_shift_lookups"] == 0, feats
    assert feats["last_activity"] <= 5, feats  # the casework moved the day's end with it
    assert not fired(feats) & OUTSIDE_RULES
    # the same outside time without casework still counts, minute for minute
    idle = rollup(ctx("pc-idle"), casework(DAY, "09:00", "18:00") + idle_browsing(DAY, "18:30", 150)).features()
    assert idle["outside_shift_min"] == 150 and "after_hours" in fired(idle)


def test_overtime_gets_no_outside_shift_reason_in_the_report() -> None:
    rows = peers()
    overtime = ctx("pc-ot")
    rows.append(AgentDayInput(overtime, rollup(overtime, casework(DAY, "09:00", "21:00", tag="9")).features()))
    report = score_day(DAY, rows, {})
    finding = next((f for f in report.findings if f.agent_id == "pc-ot"), None)
    if finding is not None:
        assert not {r.feature for r in finding.reasons} & OUTSIDE_FEATURES, [r.text for r in finding.reasons]
        assert not set(finding.rules) & OUTSIDE_RULES
        assert not any("outside the shift" in r.text or "shift end" in r.text for r in finding.reasons)


def test_caseless_customer_views_and_copies_after_hours_get_the_snooping_reason() -> None:
    snoop = ctx("pc-night")
    feats = rollup(snoop, casework(DAY, "09:00", "18:00") + snooping(DAY, "22:10", 40)).features()
    assert feats["outside_shift_lookups"] == 20 + 10, feats   # 20 caseless pages, 10 phone copies
    assert {"after_hours_lookups"} <= fired(feats)
    report = score_day(DAY, [*peers(), AgentDayInput(snoop, feats)], {})
    finding = next(f for f in report.findings if f.agent_id == "pc-night")
    assert "after_hours_lookups" in finding.rules
    texts = [r.text for r in finding.reasons]
    assert any(t.startswith("handled customer data 30 times outside the shift with no case") for t in texts), texts
    zh = [r.text_zh for r in finding.reasons]
    assert any("排班外无案件处理客户数据 30 次" in t for t in zh), zh
    # distinct from what plain activity outside the shift says
    plain = explain({**feats, "outside_shift_lookups": 0.0}, "agent", dict.fromkeys(feats, 0.0), "team", {}, 0,
                    {"outside_shift_min": 9.0}, {}, [])
    assert plain[0].text.startswith("active ") and "customer data" not in plain[0].text


def test_scheduled_overtime_and_a_rota_day_move_the_shift() -> None:
    events = casework(DAY, "09:00", "18:00") + idle_browsing(DAY, "18:40", 80)
    usual = rollup(ctx("pc-1"), events).features()
    assert usual["outside_shift_min"] == 80 and usual["last_activity"] == 120
    scheduled = day_context(ctx("pc-1"), {"overtime": ("18:00", "20:00")})
    with_ot = rollup(scheduled, events).features()
    assert with_ot["outside_shift_min"] == 0 and with_ot["last_activity"] == 0   # the shift now ends at 20:00
    rota = day_context(ctx("pc-1"), {"shift": ("13:00", "22:00")})
    late = rollup(rota, events).features()
    # the morning is outside the late shift, but it is casework at the day's pace: overtime, not outside activity
    assert late["outside_shift_min"] == 0 and late["first_activity"] == 0
    assert rollup(rota, idle_browsing(DAY, "10:00", 30) + casework(DAY, "13:00", "22:00")).features()[
        "first_activity"] == -180  # the same morning without casework still counts


def test_a_shift_entered_after_the_events_applies_to_the_stored_state() -> None:
    events = casework(DAY, "09:00", "18:00") + snooping(DAY, "19:00", 20)
    state = rollup(ctx("pc-1"), events).to_state()
    assert DayRollup.from_state(ctx("pc-1"), state).features()["outside_shift_lookups"] == 15
    moved = DayRollup.from_state(day_context(ctx("pc-1"), {"overtime": ("18:00", "20:00")}), state)
    assert moved.features()["outside_shift_lookups"] == 0
    assert not [e for e in moved.evidence() if e["kind"] == "outside_shift"]


def test_entries_are_validated() -> None:
    assert parse_days("2026-11-23", None, None) == ["2026-11-23"]
    assert parse_days(None, "2026-11-28", "2026-12-02") == list(days_between("2026-11-28", "2026-12-02"))
    for bad in ((None, None, None), ("2026-11-23", "2026-11-23", "2026-11-24"), (None, "2026-11-24", None),
                (None, "2026-11-24", "2026-11-23"), ("23/11/2026", None, None), (None, "2025-01-01", "2026-12-31")):
        with pytest.raises(BadShift):
            parse_days(*bad)


# -- storage, on every backend -----------------------------------------------------------------------------
def test_shift_entries_are_stored_listed_replaced_and_cleared(store: Any) -> None:
    days = list(days_between("2026-11-23", "2026-11-25"))
    assert store.set_shifts("pc-1", days, "shift", "13:00", "22:00", "mgr-a", 1.0) == 3
    store.set_shifts("pc-1", ["2026-11-24"], "overtime", "22:00", "23:30", "mgr-a", 2.0)
    store.set_shifts("pc-1", ["2026-11-24"], "overtime", "07:00", "09:00", "root", 3.0)  # replaces that kind
    store.set_shifts("pc-2", ["2026-11-24"], "shift", "07:30", "16:30", "root", 4.0)
    assert store.shifts_on("2026-11-24") == {"pc-1": {"shift": ("13:00", "22:00"), "overtime": ("07:00", "09:00")},
                                             "pc-2": {"shift": ("07:30", "16:30")}}
    rows = store.list_shifts("2026-11-01", "2026-11-30", ["pc-1"])
    assert [(r["day"], r["kind"], r["entered_by"]) for r in rows] == [
        ("2026-11-23", "shift", "mgr-a"), ("2026-11-24", "overtime", "root"), ("2026-11-24", "shift", "mgr-a"),
        ("2026-11-25", "shift", "mgr-a")]
    assert store.clear_shifts("pc-1", ["2026-11-24"], "overtime") == 1
    assert store.clear_shifts("pc-1", days) == 3
    assert store.shifts_on("2026-11-24") == {"pc-2": {"shift": ("07:30", "16:30")}}
    assert store.purge("2026-11-25", 0.0)["shifts"] == 1


def test_refresh_rewrites_only_the_features_of_days_with_a_rollup(store: Any) -> None:
    from collector.storage.sql import SqlRollupAccess

    with store._write() as conn:
        SqlRollupAccess(conn, 1.0).save("pc-1", "2026-11-23", {"v": 1, "n": 5}, existed=False, features={"x": 1.0})
    store.set_shifts("pc-1", ["2026-11-23", "2026-11-24"], "overtime", "18:00", "20:00", "root", 1.0)
    seen: list[tuple[str, dict[str, Any], Any]] = []

    def compute(day: str, state: dict[str, Any], entries: Any) -> dict[str, float]:
        seen.append((day, state, entries))
        return {"x": float(state["n"])}

    assert store.refresh_rollups("pc-1", ["2026-11-23", "2026-11-24"], compute) == ["2026-11-23"]
    assert seen == [("2026-11-23", {"v": 1, "n": 5}, {"overtime": ("18:00", "20:00")})]
    assert store.feature_history("2026-11-23", "2026-11-23") == {"pc-1": [{"x": 5.0}]}
    # figures judged at report time (merged into the stored features) are kept when asked, the rest recomputed
    assert store.merge_features("2026-11-23", {"pc-1": {"x": 9.0, "judged": 2.0}}) == 1
    assert store.refresh_rollups("pc-1", ["2026-11-23"], compute, ("judged", "absent")) == ["2026-11-23"]
    assert store.feature_history("2026-11-23", "2026-11-23") == {"pc-1": [{"x": 5.0, "judged": 2.0}]}
    assert store.refresh_rollups("pc-1", ["2026-11-23"], compute) == ["2026-11-23"]
    assert store.feature_history("2026-11-23", "2026-11-23") == {"pc-1": [{"x": 5.0}]}


def test_rollup_versions_change_with_each_write_of_a_state(store: Any) -> None:
    from collector.storage.sql import SqlRollupAccess

    assert store.rollup_versions("2026-11-01", "2026-11-30") == {}
    with store._write() as conn:
        access = SqlRollupAccess(conn, 1.0)
        for agent_id, day in (("pc-1", "2026-11-23"), ("pc-2", "2026-11-23"), ("pc-1", "2026-11-24"),
                              ("pc-1", "2026-12-01")):
            access.save(agent_id, day, {"n": 1}, existed=False, features={"x": 1.0})
    before = store.rollup_versions("2026-11-01", "2026-11-30")
    assert {d: sorted(v) for d, v in before.items()} == {"2026-11-23": ["pc-1", "pc-2"], "2026-11-24": ["pc-1"]}
    assert before["2026-11-23"]["pc-1"] == store.rollup_version("pc-1", "2026-11-23")
    store.merge_features("2026-11-23", {"pc-1": {"x": 2.0}})  # report-time figures: no new version
    assert store.rollup_versions("2026-11-23", "2026-11-23") == {"2026-11-23": before["2026-11-23"]}
    with store._write() as conn:
        SqlRollupAccess(conn, 2.0).save("pc-2", "2026-11-23", {"n": 2}, existed=True, features={"x": 3.0})
    after = store.rollup_versions("2026-11-23", "2026-11-23")["2026-11-23"]
    assert after["pc-1"] == before["2026-11-23"]["pc-1"] and after["pc-2"] != before["2026-11-23"]["pc-2"]
    with store._write() as conn:  # a rollup without stored features has a version, and no history
        SqlRollupAccess(conn, 3.0).save("pc-3", "2026-11-24", {"n": 3}, existed=False)
    history, versions = store.history_with_versions("2026-11-01", "2026-11-30")
    assert history == store.feature_history("2026-11-01", "2026-11-30") == {
        "pc-1": [{"x": 2.0}, {"x": 1.0}], "pc-2": [{"x": 3.0}]}
    assert versions == store.rollup_versions("2026-11-01", "2026-11-30") and sorted(versions["2026-11-24"]) == [
        "pc-1", "pc-3"]


def test_revision_0008_goes_down_and_up_again(store: Any) -> None:
    from collector.storage import schema

    store.set_shifts("pc-1", ["2026-11-23"], "shift", "13:00", "22:00", "root", 1.0)
    with store._write() as conn:
        schema.downgrade(conn, "0007")
    assert store.schema_revision() == "0007" and store.get_kv("schema_version") == "7"
    assert store.migrate() == ("0007", schema.HEAD)
    assert store.shifts_on("2026-11-23") == {}


# -- the collector: ingest, CLI, report, API --------------------------------------------------------------
@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Any]:
    c = open_collector(tmp_path / "c")
    yield c
    c.close()


def _send(c: Any, agent: SealedAgent, events: list[dict[str, Any]]) -> None:
    recorded = [agent.event(e["kind"], e["ts"], **{k: v for k, v in e.items() if k not in ("kind", "ts")})
                for e in sorted(events, key=lambda e: e["ts"])]
    for i in range(0, len(recorded), 300):
        assert c.ingest.handle(agent.seal(recorded[i:i + 300])).status == "stored"


def _stored(c: Any, agent_id: str, day: date) -> dict[str, float]:
    return c.store.feature_history(day.isoformat(), day.isoformat())[agent_id][0]


def _cli(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert collector_main(["--log-level", "WARNING", *args]) == 0
    return dict(orjson.loads(out.getvalue()))


def test_an_overtime_entry_via_the_cli_moves_the_shift_of_that_day_only(collector: Any, tmp_path: Path) -> None:
    today = datetime.now(TZ).date()
    d1, d2 = today - timedelta(days=3), today - timedelta(days=2)
    agent = SealedAgent(collector, "pc-1", shift="09:00-18:00")
    for d in (d1, d2):
        _send(collector, agent, casework(d, "09:00", "18:00") + idle_browsing(d, "18:40", 80))
    assert _stored(collector, "pc-1", d1)["outside_shift_min"] == 80
    data = str(tmp_path / "c")
    done = _cli("shift", "set", "--data", data, "--agent", "pc-1", "--date", d1.isoformat(), "--start", "18:00",
                "--end", "20:00", "--overtime")
    assert done["kind"] == "overtime" and done["recomputed"] == [d1.isoformat()]
    assert _stored(collector, "pc-1", d1)["outside_shift_min"] == 0   # recomputed for the self-baseline
    assert _stored(collector, "pc-1", d2)["outside_shift_min"] == 80  # the next day keeps the usual shift
    listed = _cli("shift", "list", "--data", data, "--agent", "pc-1", "--from", d1.isoformat(), "--to",
                  d2.isoformat())["shifts"]
    assert [(s["day"], s["kind"], s["start"], s["end"], s["entered_by"]) for s in listed] == [
        (d1.isoformat(), "overtime", "18:00", "20:00", "cli")]
    inputs = {i.ctx.agent_id: i for i in collector.reports._inputs(d1)}
    assert inputs["pc-1"].ctx.overtime == (("18:00", "20:00"),) and inputs["pc-1"].features["outside_shift_min"] == 0
    assert collector.reports._inputs(d2)[0].features["outside_shift_min"] == 80
    audit = collector.access.search(action="set_shift")
    assert audit and audit[0]["actor"] == "cli" and audit[0]["agent_id"] == "pc-1" and audit[0]["allowed"]
    _cli("shift", "clear", "--data", data, "--agent", "pc-1", "--date", d1.isoformat())
    assert _stored(collector, "pc-1", d1)["outside_shift_min"] == 80


def test_a_shift_entered_before_the_day_is_applied_at_ingest(collector: Any) -> None:
    day = datetime.now(TZ).date() - timedelta(days=2)
    agent = SealedAgent(collector, "pc-2", shift="09:00-18:00")
    collector.shifts.set(CLI, "pc-2", [day.isoformat()], "13:00", "22:00")
    _send(collector, agent, casework(day, "13:00", "22:00"))
    stored = _stored(collector, "pc-2", day)
    assert stored["outside_shift_min"] == 0 and stored["first_activity"] == 0 and stored["night_min"] == 0


def test_the_api_lets_managers_edit_their_own_teams_only_and_refuses_bad_entries(collector: Any) -> None:
    from collector.api import create_app

    SealedAgent(collector, "pc-a", team="cs-a")
    SealedAgent(collector, "pc-b", team="cs-b")
    collector.accounts.add_user("mgr-a", "manager", ["cs-a"])
    token, _ = collector.accounts.tokens.create("mgr-a")
    client = TestClient(create_app(collector), headers={"authorization": f"Bearer {token}"})
    entry = {"date": "2099-01-05", "start": "18:00", "end": "21:00", "overtime": True}
    ok = client.post("/api/v1/agents/pc-a/shifts", json=entry)
    assert ok.status_code == 200 and ok.json()["days"] == ["2099-01-05"], ok.text
    other = client.post("/api/v1/agents/pc-b/shifts", json=entry)
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    assert collector.store.shifts_on("2099-01-05") == {"pc-a": {"overtime": ("18:00", "21:00")}}
    before = collector.metrics.shifts.labels("refused")._value.get()
    for bad in ({**entry, "start": "25:00"}, {**entry, "end": "18:00", "start": "18:00"},
                {**entry, "from": "2099-01-01"}, {"start": "18:00", "end": "21:00"}):
        got = client.post("/api/v1/agents/pc-a/shifts", json=bad)
        assert got.status_code == 400 and got.json()["error"]["code"] == "bad_shift", got.text
    assert collector.metrics.shifts.labels("refused")._value.get() == before + 4
    assert client.post("/api/v1/agents/pc-a/shifts", json={**entry, "extra": 1}).status_code == 400
    listed = client.get("/api/v1/agents/pc-a/shifts?from=2099-01-01&to=2099-01-31").json()["shifts"]
    assert [(s["kind"], s["start"], s["entered_by"]) for s in listed] == [("overtime", "18:00", "mgr-a")]
    assert client.get("/api/v1/agents/pc-b/shifts").status_code == 403
    cleared = client.post("/api/v1/agents/pc-a/shifts/clear", json={"date": "2099-01-05", "kind": "overtime"})
    assert cleared.json()["removed"] == 1 and collector.store.shifts_on("2099-01-05") == {}


def test_live_checks_see_todays_rota_shift_and_its_overtime(collector: Any) -> None:
    today = datetime.now(TZ).date().isoformat()
    SealedAgent(collector, "pc-3", shift="09:00-18:00")
    assert (collector.rollups.live_context("pc-3").shift_start, collector.rollups.live_context("pc-3").shift_end) \
        == ("09:00", "18:00")
    collector.shifts.set(CLI, "pc-3", [today], "13:00", "22:00")
    collector.shifts.set(CLI, "pc-3", [today], "22:00", "23:30", overtime=True)
    live = collector.rollups.live_context("pc-3")
    assert (live.shift_start, live.shift_end, live.overtime) == ("13:00", "23:30", ())
    assert collector.wall.contexts is not None and collector.wall.contexts("pc-3").shift_end == "23:30"
