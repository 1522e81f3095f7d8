"""Issue 14 items 3 and 4 end to end: the real agent's replay into a real collector process.

- A day that floods the rollup (5,000 apps, 6,000 customer pages) and stops the agent over lunch still
  shows the ID taken to WeChat, the caseless customer page, the stop and the bounds in the report.
- A clean stop during the shift raises "agent stopped" in the running collector, shows as
  ``agent_stopped`` on the wall and counts in today's report; the same stop of an agent the admin then
  retires (``revoke``) counts nowhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.conftest import AGENT, COLLECTOR, FAST_AGENT_ENV, CollectorProcess, run_cli, wait_for

TZ = ZoneInfo("Asia/Shanghai")
START = {"version": "1", "os": "Windows 11", "hostname": "pc", "user": "u"}
BEAT = {"spool_depth": 0, "dropped_total": 0, "cpu_pct": 1.0, "rss_mb": 40.0}


def _enroll(c: CollectorProcess, home: Path, name: str, shift: str | None = None) -> None:
    token = run_cli(COLLECTOR, "enroll-token", "--data", str(c.data), "--team", "cs-a",
                    *(["--shift", shift] if shift else [])).strip()
    run_cli(AGENT, "enroll", "--home", str(home), "--collector", c.url, "--token", token, "--name", name)


def _replay(home: Path, path: Path, events: list[tuple[datetime, str, dict[str, Any]]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for seq, (ts, kind, fields) in enumerate(sorted(events, key=lambda e: e[0]), 1):
            fh.write(json.dumps({"schema": 1, "agent_id": "rec", "seq": seq, "kind": kind, **fields,
                                 "ts": ts.isoformat(timespec="milliseconds")}) + "\n")
    run_cli(AGENT, "replay", "--home", str(home), "--wait", str(path), env=FAST_AGENT_ENV)


def _report(c: CollectorProcess, day: str) -> dict[str, dict[str, Any]]:
    out = json.loads(run_cli(COLLECTOR, "report", "--data", str(c.data), "--date", day, "--format", "json"))
    return {f["agent_id"]: f for f in out["findings"]}


def _beats(first: datetime, last: datetime) -> list[tuple[datetime, str, dict[str, Any]]]:
    out = []
    t = first
    while t < last:
        out.append((t, "agent.heartbeat", BEAT))
        t += timedelta(minutes=1)
    return out


def _flood_day() -> list[tuple[datetime, str, dict[str, Any]]]:
    day = datetime(2026, 11, 23, tzinfo=TZ)

    def at(hh: int, mm: int, ss: int = 0) -> datetime:
        return day.replace(hour=hh, minute=mm, second=ss)

    ev = [(at(8, 55), "agent.start", START), *_beats(at(8, 55, 30), at(12, 0)),
          (at(12, 0, 10), "agent.stop", {"reason": "signal"}),          # an hour off over lunch
          (at(13, 0), "agent.start", START), *_beats(at(13, 0, 30), at(18, 0))]
    ev += [(at(13, 0) + timedelta(seconds=k), "app.focus", {"app": f"tool{k}.exe", "title": "t", "pid": 3})
           for k in range(5000)]
    ev += [(at(14, 30), "clipboard.copy", {"app": "crm.exe", "title": "CRM", "trigger": "hotkey", "chars": 18,
                                           "classes": {"id_number": 1}, "action": "allowed"}),
           (at(14, 30, 10), "app.focus", {"app": "WeChat.exe", "title": "chat", "pid": 2}),
           (at(14, 35), "app.focus", {"app": "crm.exe", "title": "CRM", "pid": 1}),
           (at(15, 0), "case.open", {"case_id": "C-2026-0000001", "app": "crm", "title": "case"})]
    ev += [(at(15, 0, 1) + timedelta(seconds=k), "page.open",
            {"url": f"https://crm.lender.example/customers/{k}", "title": "c", "app": "chrome.exe"})
           for k in range(6000)]
    ev += [(at(16, 45), "case.close", {"case_id": "C-2026-0000001", "active_s": 6000, "idle_s": 0, "wall_s": 6300}),
           (at(17, 0), "page.open", {"url": "https://crm.lender.example/customers/424242", "title": "c",
                                     "app": "chrome.exe"})]
    return ev


@pytest.fixture
def fast_checker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CollectorProcess]:
    monkeypatch.setenv("SEATGUARD_ALERT_SILENCE_CHECK_S", "1")
    c = CollectorProcess(tmp_path / "collector")
    c.start()
    yield c
    c.kill()


def test_a_flooded_day_with_a_lunch_stop_shows_everything(collector: CollectorProcess, tmp_path: Path) -> None:
    home = tmp_path / "pc"
    _enroll(collector, home, "pc-flood")
    _replay(home, tmp_path / "day.jsonl", _flood_day())
    assert collector.stats("pc-flood")["events"] >= 11_000
    finding = _report(collector, "2026-11-23")["pc-flood"]
    f = finding["features"]
    assert (f["ids_to_messaging"], f["pages_without_case"], f["customer_pages"]) == (1, 1, 6001)
    assert (f["stops_in_shift"], f["stopped_shift_min"], f["silent_shift_min"]) == (1, 59, 0)
    assert f["rollup_bound_hits"] >= 2                     # apps and pages
    assert {"stopped_in_shift", "rollup_bound", "id_to_messaging"} <= set(finding["rules"])
    kinds = {e["kind"] for e in finding["evidence"]}
    assert {"copy_to_offlist", "stop", "rollup_bound"} <= kinds


def test_a_stop_in_the_shift_alerts_and_shows_but_the_admins_uninstall_does_not(
        fast_checker: CollectorProcess, tmp_path: Path) -> None:
    c = fast_checker
    now = datetime.now(TZ)
    stop = now - timedelta(minutes=15)
    if stop.date() != now.date() or stop.hour == 0 and stop.minute < 45:
        pytest.skip("needs 45 minutes of today before the stop")
    first = max(stop - timedelta(minutes=40), stop.replace(hour=0, minute=0, second=1))
    day = [(first, "agent.start", START), *_beats(first + timedelta(seconds=20), stop),
           (stop, "agent.stop", {"reason": "signal"})]
    for name in ("pc-stop", "pc-gone"):
        _enroll(c, tmp_path / name, name, shift="00:00-00:00")
        _replay(tmp_path / name, tmp_path / f"{name}.jsonl", day)
    run_cli(COLLECTOR, "revoke", "--data", str(c.data), "--agent", "pc-gone")   # the admin's uninstall
    token = run_cli(COLLECTOR, "token", "create", "--data", str(c.data), "--user", "admin").strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}

    def stop_alerts() -> list[dict[str, Any]]:
        got = requests.get(c.url + "/api/v1/alerts", headers=auth, timeout=10).json()["alerts"]
        return [a for a in got if a["rule"] == "stopped_in_shift" and a["agent_id"] == "pc-stop"]

    [alert] = wait_for(stop_alerts, 60, what="the 'agent stopped' alert from the running collector")
    assert alert["severity"] == "high" and alert["value"] >= 14
    wall = {a["agent_id"]: a["state"] for a in
            requests.get(c.url + "/api/v1/wall", headers=auth, timeout=10).json()["agents"]}
    assert wall == {"pc-stop": "agent_stopped", "pc-gone": "offline"}
    report = _report(c, now.date().isoformat())
    assert report["pc-stop"]["features"]["stops_in_shift"] == 1
    assert "stopped_in_shift" in report["pc-stop"]["rules"]
    gone = report.get("pc-gone", {"features": {"stops_in_shift": 0, "stopped_shift_min": 0}, "rules": []})
    assert gone["features"]["stops_in_shift"] == 0 and gone["features"]["stopped_shift_min"] == 0
    assert "stopped_in_shift" not in gone["rules"]
