"""Handling time: case.open / case.close arithmetic, first on a settable clock, then on a real X display."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.sensors import AgentPolicy, SensorSet
from agent.sensors.cases import CaseSensor
from simulator.testing.sensors import FakeClock, ListSink, Record, XSession, display_env, xvfb

POLICY = AgentPolicy(case_id_patterns=[r"Case (\d{4})", r"/case/(\d+)"], case_absence_s=120)


class Desk:
    """Feeds a CaseSensor the events the focus/idle/browser sensors would emit, on a fake clock."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.start = self.clock.now()
        self.sink = ListSink()
        self.cases = CaseSensor(self.sink, POLICY, self.clock)

    def at(self, seconds: float) -> datetime:
        self.clock.moment = self.start + timedelta(seconds=seconds)
        return self.clock.moment

    def focus(self, seconds: float, app: str, title: str) -> None:
        self.cases.observe("app.focus", {"app": app, "title": title, "pid": 7}, self.at(seconds))

    def page(self, seconds: float, url: str, title: str) -> None:
        self.cases.observe("page.open", {"url": url, "title": title, "app": "chrome"}, self.at(seconds))

    def idle(self, seconds: float, threshold: float) -> None:
        self.cases.observe("input.idle", {"threshold_s": threshold}, self.at(seconds))

    def active(self, seconds: float, idle_s: float) -> None:
        self.cases.observe("input.active", {"idle_s": idle_s}, self.at(seconds))

    def events(self) -> list[tuple[str, dict[str, object], float]]:
        return [(r.kind, r.fields, (r.ts - self.start).total_seconds()) for r in self.sink.records]


def test_switching_cases_splits_active_and_idle_time() -> None:
    desk = Desk()
    desk.focus(0, "crm", "Case 1001 - CRM")
    desk.idle(100, threshold=30)  # no input since t=70
    desk.active(160, idle_s=90)  # back at t=160: idle [70, 160]
    desk.focus(200, "notepad", "notes.txt")  # a short detour counts towards the case
    desk.focus(230, "crm", "Case 1001 - CRM")
    desk.focus(300, "crm", "Case 1002 - CRM")
    assert desk.events() == [
        ("case.open", {"case_id": "1001", "app": "crm", "title": "Case 1001 - CRM"}, 0.0),
        ("case.close", {"case_id": "1001", "active_s": 210.0, "idle_s": 90.0, "wall_s": 300.0}, 300.0),
        ("case.open", {"case_id": "1002", "app": "crm", "title": "Case 1002 - CRM"}, 300.0),
    ]
    desk.sink.as_v1()


def test_an_absent_case_closes_at_the_moment_it_left() -> None:
    desk = Desk()
    desk.focus(0, "crm", "Case 2002 - CRM")
    desk.idle(50.5, threshold=20)  # idle from 30.5 ...
    desk.focus(80.25, "wechat", "Chat")  # ... still idle when it leaves (the WM moved focus)
    desk.at(80.25 + 119)
    desk.cases.tick()
    assert [e[0] for e in desk.events()] == ["case.open"]
    desk.at(80.25 + 120)
    desk.cases.tick()
    assert desk.events()[-1] == (
        "case.close", {"case_id": "2002", "active_s": 30.5, "idle_s": 49.75, "wall_s": 80.25}, 80.25)
    desk.cases.tick()
    assert len(desk.events()) == 2


def test_browser_cases_come_from_the_url_and_stop_closes_the_open_case() -> None:
    desk = Desk()
    desk.focus(0, "chromium", "Customer - Chromium")
    desk.page(1, "https://crm.lender.example/case/31337", "Customer")
    desk.focus(5, "crm", "Inbox")  # away from the browser
    desk.page(6, "https://crm.lender.example/case/99", "background tab")  # browser not in front: ignored
    desk.focus(9, "chromium", "Customer - Chromium")  # back: the page in front is still case 31337
    desk.at(42.125)
    desk.cases.stop()
    assert desk.events() == [
        ("case.open", {"case_id": "31337", "app": "chromium", "title": "Customer"}, 1.0),
        ("case.close", {"case_id": "31337", "active_s": 41.125, "idle_s": 0.0, "wall_s": 41.125}, 42.125),
    ]


def test_without_focus_tracking_pages_alone_drive_cases() -> None:
    desk = Desk()  # e.g. a Wayland session: no app.focus ever, only the extension's page.open
    desk.page(0, "https://crm.lender.example/case/5", "Case")
    desk.page(30, "https://crm.lender.example/case/6", "Case")
    assert [(e[0], e[1]["case_id"], e[2]) for e in desk.events()] == [
        ("case.open", "5", 0.0), ("case.close", "5", 30.0), ("case.open", "6", 30.0)]


# ---- on a real display: focus and idle sensors feeding the cases sensor -------------------------


@pytest.fixture(scope="module")
def x() -> Iterator[XSession]:
    with xvfb() as session, display_env(session):
        yield session


def _idle_overlap(records: list[Record], start: datetime, end: datetime) -> float:
    """Seconds of [start, end] inside the idle intervals that the idle sensor's events describe."""
    total, idle_since = 0.0, None
    for r in records:
        if r.kind == "input.idle":
            idle_since = r.ts - timedelta(seconds=r.fields["threshold_s"])
        elif r.kind == "input.active":
            span = (r.ts - timedelta(seconds=r.fields["idle_s"]), r.ts)
            total += max((min(span[1], end) - max(span[0], start)).total_seconds(), 0.0)
            idle_since = None
    if idle_since is not None:
        total += max((end - max(idle_since, start)).total_seconds(), 0.0)
    return total


def test_handling_time_on_a_real_desktop(x: XSession, tmp_path: Path) -> None:
    policy = AgentPolicy(case_id_patterns=[r"Case (\d{4})"], idle_threshold_s=1, focus_poll_s=0.1)
    sink = ListSink()
    sensors = SensorSet(sink, policy, names=["focus", "idle", "cases"])
    first = x.open_window("Case 3001 - CRM", "crm", tmp_path)
    second = x.open_window("Case 3002 - CRM", "crm", tmp_path)
    x.xdotool("windowactivate", "--sync", str(first))
    x.xdotool("mousemove", "5", "5")
    sensors.start()
    try:
        sink.wait_kind("case.open", where=lambda r: r.fields["case_id"] == "3001")
        sink.wait_kind("input.idle", timeout=10)
        x.xdotool("mousemove", "300", "300")
        sink.wait_kind("input.active", timeout=10)
        x.xdotool("windowactivate", "--sync", str(second))
        sink.wait_kind("case.close", timeout=10)
    finally:
        sensors.stop()
    events = sink.as_v1()  # every event is valid schema v1
    records = sink.records
    assert [(r.kind, r.fields.get("case_id")) for r in records if r.kind.startswith("case.")] == [
        ("case.open", "3001"), ("case.close", "3001"), ("case.open", "3002"), ("case.close", "3002")]
    idle_ev = next(r for r in records if r.kind == "input.idle")
    active_ev = next(r for r in records if r.kind == "input.active")
    assert idle_ev.fields == {"threshold_s": 1.0}
    # input.idle is stamped at last input + threshold; input.active at the resume, idle_s before it
    quiet_from = active_ev.ts - timedelta(seconds=active_ev.fields["idle_s"])
    assert abs((idle_ev.ts - quiet_from).total_seconds() - 1.0) < 0.002
    opens = [r for r in records if r.kind == "case.open"]
    closes = [r for r in records if r.kind == "case.close"]
    for opened, closed in zip(opens, closes, strict=True):
        wall = (closed.ts - opened.ts).total_seconds()
        assert closed.fields["wall_s"] == round(wall, 3)
        assert closed.fields["idle_s"] == pytest.approx(_idle_overlap(records, opened.ts, closed.ts), abs=0.002)
        assert closed.fields["active_s"] == round(closed.fields["wall_s"] - closed.fields["idle_s"], 3)
    assert closes[0].fields["idle_s"] > 0.5  # most of the >= 1 s quiet stretch fell inside case 3001
    assert closes[0].ts == opens[1].ts  # the next case took the front: closed at that very moment
    assert json.dumps(events)
