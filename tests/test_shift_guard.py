"""Who may move a past day's shift, and overnight entries in the live checks.

- Managers enter or clear shifts for yesterday, today and later only: an older day's stored features (and
  with them the after-hours rules) are recomputed only by an admin. Refusals are 403, logged, counted and
  audited; an entry made after the day shows on the day's report page (who, when).
- After midnight the live checks (silence alert) apply the previous day's overnight entry to its morning
  hours: run at a set local time with a ManualClock, as tests/test_alerts_silence.py does.
- What a caller typed is quoted at most 80 characters long in messages and log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

import collector.ingest as ingest_module
from collector.alerts import AlertConfig
from collector.alerts.clock import ManualClock
from collector.shifts import CLI
from simulator.testing.alerts import SealedAgent, WebhookReceiver, install, open_collector
from tests.web_fixtures import PASSWORD, csrf_of, signed_in

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60.0


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Any]:
    c = open_collector(tmp_path / "c")
    yield c
    c.close()


def _manager(c: Any) -> TestClient:
    from collector.api import create_app

    c.accounts.add_user("mgr-a", "manager", ["cs-a"])
    token, _ = c.accounts.tokens.create("mgr-a")
    return TestClient(create_app(c), headers={"authorization": f"Bearer {token}"})


def _refused(c: Any) -> float:
    return float(c.metrics.shifts.labels("refused")._value.get())


def test_managers_move_yesterday_and_later_only_older_days_need_an_admin(collector: Any,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    SealedAgent(collector, "pc-a", team="cs-a")
    client = _manager(collector)
    today = datetime.now(TZ).date()
    old, yesterday = (today - timedelta(days=2)).isoformat(), (today - timedelta(days=1)).isoformat()
    night = {"start": "00:00", "end": "23:59", "overtime": True}
    before = _refused(collector)
    with caplog.at_level(logging.WARNING, logger="collector.shifts"):
        got = client.post("/api/v1/agents/pc-a/shifts", json={"date": old, **night})
    assert got.status_code == 403 and got.json()["error"]["code"] == "forbidden", got.text
    assert "needs an admin" in got.json()["error"]["message"] and old in got.json()["error"]["message"]
    assert any("refused" in r.getMessage() and "needs an admin" in r.getMessage() for r in caplog.records)
    assert _refused(collector) == before + 1
    audit = collector.access.search(action="set_shift")
    assert audit[0]["actor"] == "mgr-a" and audit[0]["allowed"] in (False, 0) and audit[0]["agent_id"] == "pc-a"
    assert collector.store.shifts_on(old) == {}
    # a range that starts too far back is refused whole
    span = client.post("/api/v1/agents/pc-a/shifts", json={"from": old, "to": today.isoformat(), **night})
    assert span.status_code == 403 and collector.store.shifts_on(today.isoformat()) == {}
    # last night's overtime entered the next morning is fine, and so are today and later
    for day in (yesterday, today.isoformat(), (today + timedelta(days=3)).isoformat()):
        ok = client.post("/api/v1/agents/pc-a/shifts", json={"date": day, "start": "18:00", "end": "21:00",
                                                              "overtime": True})
        assert ok.status_code == 200, ok.text
    # an admin (here the CLI) may, and a manager may not clear what the admin entered
    collector.shifts.set(CLI, "pc-a", [old], "13:00", "22:00")
    cleared = client.post("/api/v1/agents/pc-a/shifts/clear", json={"date": old})
    assert cleared.status_code == 403 and collector.store.shifts_on(old) == {"pc-a": {"shift": ("13:00", "22:00")}}
    assert _refused(collector) == before + 3


def test_the_report_page_shows_shifts_entered_after_the_day(collector: Any) -> None:
    from collector.api import create_app

    SealedAgent(collector, "pc-a", team="cs-a")
    SealedAgent(collector, "pc-b", team="cs-b")
    collector.accounts.add_user("lead-b", "manager", ["cs-b"], password=PASSWORD)
    collector.accounts.add_user("sec", "security", [], password=PASSWORD)
    today = datetime.now(TZ).date()
    old, future = (today - timedelta(days=4)).isoformat(), (today + timedelta(days=2)).isoformat()
    collector.shifts.set(CLI, "pc-a", [old], "00:00", "23:59", overtime=True)
    collector.shifts.set(CLI, "pc-a", [future], "13:00", "22:00")
    app = create_app(collector)
    page = signed_in(app, "sec").get(f"/report?date={old}&lang=en")
    assert page.status_code == 200 and "Shifts entered after this day" in page.text
    assert "pc-a</a> overtime 00:00–23:59, entered by cli" in page.text, page.text
    assert "Shifts entered after this day" not in signed_in(app, "sec").get(f"/report?date={future}&lang=en").text
    assert "Shifts entered after this day" not in signed_in(app, "lead-b").get(f"/report?date={old}&lang=en").text
    shown = [r for r in collector.access.search(action="read_shifts") if r["actor"] == "sec"]
    assert [r["agent_id"] for r in shown] == ["pc-a"]  # audited per agent shown; nothing shown, no record
    assert not [r for r in collector.access.search(action="read_shifts") if r["actor"] == "lead-b"]


def test_form_refusals_log_what_was_typed_short(collector: Any, caplog: pytest.LogCaptureFixture) -> None:
    from collector.api import create_app

    SealedAgent(collector, "pc-a", team="cs-a")
    collector.accounts.add_user("root2", "admin", [], password=PASSWORD)
    client = signed_in(create_app(collector), "root2")
    token = csrf_of(client.get("/shifts").text)
    typed = "2026-" + "9" * 5000
    with caplog.at_level(logging.INFO):
        bad_day = client.post("/shifts", data={"csrf": token, "agent_id": "pc-a", "date": typed, "start": "09:00",
                                               "end": "18:00"})
        unknown = client.post("/shifts", data={"csrf": token, "agent_id": "x" * 5000, "date": "2099-01-01",
                                               "start": "09:00", "end": "18:00"})
    assert bad_day.status_code == 400 and "YYYY-MM-DD" in bad_day.text  # the form keeps what was typed
    assert unknown.status_code == 404
    messages = [r.getMessage() for r in caplog.records]
    assert any("2026-" + "9" * 75 in m for m in messages) and any("x" * 80 in m for m in messages), messages
    assert all("9" * 76 not in m and "x" * 161 not in m for m in messages), max(map(len, messages))
    refused = collector.access.search(action="set_shift")
    assert refused and "x" * 5000 in refused[0]["target"]  # the audit itself keeps what was typed


# -- overnight entries in the live checks, at a set local time --------------------------------------------
def _latest(hhmm: str) -> datetime:
    now = datetime.now(TZ)
    at = now.replace(hour=int(hhmm[:2]), minute=int(hhmm[3:]), second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=1)


@pytest.fixture
def night(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, ManualClock]]:
    """A collector whose alert service and ingest receipts run on a ManualClock at the latest past 01:00."""
    c = open_collector(tmp_path / "c")
    hook = WebhookReceiver()
    clock = ManualClock(_latest("01:00").timestamp())

    class Received(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.fromtimestamp(clock.time(), tz)

    monkeypatch.setattr(ingest_module, "datetime", Received)
    service = install(c, AlertConfig(webhook_url=hook.url, webhook_secret="k", wall="off", silent_after_min=10),
                      clock)
    yield c, service, clock
    service.close()
    c.close()
    hook.close()


def test_an_overnight_entry_of_the_day_before_covers_its_hours_after_midnight(
        night: tuple[Any, Any, ManualClock]) -> None:
    c, service, clock = night
    local = datetime.fromtimestamp(clock.time(), TZ)
    day_before = (local.date() - timedelta(days=1)).isoformat()
    entries = {"pc-night": ("22:00", "06:00", False), "pc-ot": ("23:00", "02:00", True),
               "pc-short": ("22:00", "00:30", False)}
    agents = {name: SealedAgent(c, name, shift="09:00-18:00", clock=clock) for name in [*entries, "pc-usual"]}
    for name, (start, end, overtime) in entries.items():
        c.shifts.set(CLI, name, [day_before], start, end, overtime=overtime)
    for agent in agents.values():
        fields: dict[str, Any] = {"version": "0.1", "os": "Windows 11", "hostname": "pc", "user": "u"}
        beat: dict[str, Any] = {"spool_depth": 0, "dropped_total": 0, "cpu_pct": 0.5, "rss_mb": 40.0}
        c.ingest.handle(agent.seal([agent.event("agent.start", **fields), agent.event("agent.heartbeat", **beat)]))
    assert service.wait_idle(10)
    clock.advance(11 * MIN)
    at = datetime.fromtimestamp(clock.time(), TZ)
    live = {name: c.rollups.live_context(name, at) for name in agents}
    assert (live["pc-night"].shift_start, live["pc-night"].shift_end) == ("22:00", "06:00")
    assert (live["pc-ot"].shift_start, live["pc-ot"].shift_end) == ("23:00", "02:00")
    assert (live["pc-short"].shift_start, live["pc-short"].shift_end) == ("09:00", "18:00")  # over at 00:30
    assert (live["pc-usual"].shift_start, live["pc-usual"].shift_end) == ("09:00", "18:00")
    silent = sorted(a.agent_id for a in service.check_silence() if a.rule == "agent_silenced")
    assert silent == ["pc-night", "pc-ot"], silent
    # later that morning the night shift is over: the day's own (usual) shift applies again
    morning = at.replace(hour=7, minute=0)
    assert c.rollups.live_context("pc-night", morning).shift_start == "09:00"
