"""Real-time alerts judge an agent-day with that day's shift entries, as the daily report does.

A real ``serve`` process (SQLite) and real sealed batches over HTTP. Shifts are entered with the
``shift`` CLI, another process on the same data folder: the server hears of them by the stored version
(:mod:`collector.shift_entries`), not by its own writes.

- scheduled overtime recorded for the day: working late raises no outside-shift alert, while the same
  evening without the entry does;
- a rota day (a swap to a later shift) moves the day's shift for the real-time rules too;
- an entry made after the day's first batch was judged applies to the next batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from contract.schema import format_ts
from tests.conftest import COLLECTOR, CollectorProcess, run_cli, wait_for
from tests.web_fixtures import SimAgent

TZ = ZoneInfo("Asia/Shanghai")  # the collector's default zone
OUTSIDE_RULES = {"after_hours", "after_hours_lookups", "night_work"}


@dataclass
class Site:
    collector: CollectorProcess
    admin: dict[str, str]
    day: date  # yesterday: the whole day is over, so every late minute counts

    def post(self, path: str, body: bytes) -> requests.Response:
        return requests.post(self.collector.url + path, data=body, headers={"Content-Type": "application/json"},
                             timeout=30)

    def agent(self, name: str) -> SimAgent:
        agent = SimAgent(name)
        agent.enroll(self.post, self.collector.token())
        return agent

    def shift(self, name: str, start: str, end: str, overtime: bool = False) -> None:
        run_cli(COLLECTOR, "shift", "set", "--data", str(self.collector.data), "--agent", name, "--date",
                self.day.isoformat(), "--start", start, "--end", end, *(["--overtime"] if overtime else []))

    def rules(self, name: str) -> set[str]:
        answer = requests.get(self.collector.url + "/api/v1/alerts", headers=self.admin, timeout=10,
                              params={"agent": name, "date": self.day.isoformat()})
        assert answer.status_code == 200, answer.text
        return {a["rule"] for a in answer.json()["alerts"]}

    def raised(self, name: str, rule: str) -> set[str]:
        """The agent-day's alert rules once ``rule`` is among them (the batch that carries it was judged)."""
        def found() -> set[str] | None:
            got = self.rules(name)
            return got if rule in got else None

        return set(wait_for(found, 30, what=f"{rule} alert for {name}"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    c = CollectorProcess(tmp_path_factory.mktemp("shift-alerts") / "collector")
    run_cli(COLLECTOR, "user", "add", "--data", str(c.data), "--name", "boss", "--role", "admin")
    token = run_cli(COLLECTOR, "token", "create", "--data", str(c.data), "--user", "boss").strip()
    c.start()
    try:
        yield Site(c, {"Authorization": f"Bearer {token}"}, datetime.now(TZ).date() - timedelta(days=1))
    finally:
        c.kill()


def at(day: date, hhmm: str, minutes: int = 0) -> datetime:
    return datetime.combine(day, time(int(hhmm[:2]), int(hhmm[3:])), TZ) + timedelta(minutes=minutes)


def ev(when: datetime, kind: str, **fields: Any) -> dict[str, Any]:
    return {"ts": format_ts(when), "kind": kind, **fields}


def casework(day: date, start: str, end: str) -> list[dict[str, Any]]:
    """A case every 10 minutes, input every minute: an ordinary shift."""
    out, t, n = [], at(day, start), 0
    while t + timedelta(minutes=10) <= at(day, end):
        n += 1
        case = f"C-{day.year}-{day.toordinal() % 1000 * 1000 + n:07d}"
        out.append(ev(t, "case.open", case_id=case, app="crm", title=case))
        out += [ev(t + timedelta(minutes=m, seconds=30), "app.focus", app="crm", title="客户工作台", pid=10)
                for m in range(10)]
        out.append(ev(t + timedelta(minutes=8), "case.close", case_id=case, active_s=480, idle_s=0, wall_s=480))
        t += timedelta(minutes=10)
    return out


def late_evening(day: date, start: str = "18:40", minutes: int = 140) -> list[dict[str, Any]]:
    """Active every minute with no case open: outside the usual 09:00-18:00 shift, this is after hours."""
    return [ev(at(day, start, m), "app.focus", app="crm", title=f"报表 {m % 7}", pid=10) for m in range(minutes)]


def remote_tool(when: datetime) -> dict[str, Any]:
    return ev(when, "process.start", name="AnyDesk.exe", exe="C:/Tools/AnyDesk.exe", pid=77,
              category="remote_access")


def usb(when: datetime) -> dict[str, Any]:
    return ev(when, "device.mount", mountpoint="E:", fs="exFAT", label="USB", removable=True)


def test_recorded_overtime_keeps_a_late_evening_from_raising_outside_shift_alerts(site: Site) -> None:
    day = site.day
    agents = {name: site.agent(name) for name in ("pc-overtime", "pc-unrecorded")}
    site.shift("pc-overtime", "18:00", "22:00", overtime=True)
    for agent in agents.values():  # the same day for both; the mount marks the last batch
        agent.send(site.post, casework(day, "09:00", "18:00") + late_evening(day) + [usb(at(day, "21:10"))])
    unrecorded = wait_for(lambda: site.rules("pc-unrecorded") & {"after_hours"}, 30, what="after_hours alert")
    assert unrecorded == {"after_hours"}
    assert site.raised("pc-overtime", "drive_mount").isdisjoint(OUTSIDE_RULES)


def test_a_rota_day_moves_the_shift_for_the_real_time_rules(site: Site) -> None:
    day = site.day
    agent = site.agent("pc-swap")
    site.shift("pc-swap", "12:00", "21:30")  # swapped to the late shift that day
    agent.send(site.post, casework(day, "12:00", "18:00") + late_evening(day) + [usb(at(day, "21:10"))])
    assert site.raised("pc-swap", "drive_mount").isdisjoint(OUTSIDE_RULES)


def test_an_entry_made_after_the_first_batch_applies_to_the_next_one(site: Site) -> None:
    day = site.day
    agents = {name: site.agent(name) for name in ("pc-later", "pc-later-none")}
    for name, agent in agents.items():  # judged once with the usual shift (the day's entries are read then)
        agent.send(site.post, casework(day, "09:00", "18:00") + [remote_tool(at(day, "10:00"))])
        assert site.raised(name, "remote_access").isdisjoint(OUTSIDE_RULES)
    site.shift("pc-later", "18:00", "22:00", overtime=True)  # the lead records the overtime afterwards
    for agent in agents.values():
        agent.send(site.post, late_evening(day) + [usb(at(day, "21:10"))])
    assert "after_hours" in wait_for(lambda: site.rules("pc-later-none") & {"after_hours"}, 30,
                                     what="after_hours alert without the entry")
    assert site.raised("pc-later", "drive_mount").isdisjoint(OUTSIDE_RULES)
