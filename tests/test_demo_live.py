"""The demo's live floor against a real ``seatguard-collector serve``: enrolled agents running the real
runner (spool, sealed batches, uploader) work today, so today's wall moves and a real-time alert
arrives, all read through the HTTP API; Ctrl+C's path (SIGTERM) stops them cleanly."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from detectors.presence import shift_on
from simulator.demo import LiveOptions, start_live
from simulator.live import ACTS, LIVE_TEAM, ROTATION, local_ms, plan_floor, to_datetime, today_script
from tests.conftest import COLLECTOR, CollectorProcess, run_cli, wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("clock", ["2026-12-03T09:41:07", "2026-12-03T23:52:30", "2026-12-04T00:03:00",
                                   "2026-12-04T16:10:00"])
def test_the_live_shift_covers_now_and_nothing_is_back_dated(clock: str) -> None:
    moment = datetime.fromisoformat(clock).replace(tzinfo=SHANGHAI)
    now = local_ms(moment.timestamp())
    assert to_datetime(now) == moment
    specs = plan_floor(seed=5, agents=5, insiders=2, first_act_s=45, act_every_s=180, now=now)
    for zone in (SHANGHAI, ZoneInfo("Europe/Berlin")):  # the shift is entered in the collector's zone
        local = moment.astimezone(zone)
        for spec in specs:
            start, end = spec.shift_in(zone).split("-")
            assert shift_on(start, end, local.hour * 60 + local.minute), (spec.shift_in(zone), local)
    for spec in specs:
        script = today_script(spec, now)
        assert script and all(r.t > now for r in script)
        assert [r.t for r in script] == sorted(r.t for r in script)
        assert not any(r.kind.startswith("agent.") for r in script)  # the real runner sends those
        opened = {r.fields["case_id"] for r in script if r.kind == "case.open"}
        assert all(r.fields["case_id"] in opened for r in script if r.kind == "case.close")
        if spec.acts:  # each insider's first misconduct begins on the second promised
            assert any(r.t == spec.acts[0][0] for r in script)
    assert min(spec.acts[0][0] for spec in specs if spec.acts) == now + 45_000


def test_insiders_take_turns_and_cycle_through_every_kind_of_misconduct() -> None:
    now = local_ms(datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI).timestamp())
    specs = plan_floor(seed=5, agents=6, insiders=2, first_act_s=30, act_every_s=120, now=now)
    insiders = [s for s in specs if s.acts]
    assert len(insiders) == 2 and all(s.role == "agent" for s in insiders)
    slots = sorted(at for s in insiders for at, _ in s.acts)
    assert slots[0] == now + 30_000 and {b - a for a, b in zip(slots, slots[1:], strict=False)} == {120_000}
    for spec in insiders:
        names = [name for _, name in spec.acts]
        assert set(names[:len(ROTATION)]) == set(ROTATION) == set(ACTS)
    assert insiders[0].acts[0][1] != insiders[1].acts[0][1]  # the first two alerts are of two kinds
    assert sorted(s.turn for s in insiders) == [0, 1]  # they take their meal breaks one after the other
    assert len({s.agent_id for s in specs}) == 6 and all(s.agent_id.startswith("live-") for s in specs)
    with pytest.raises(ValueError):
        plan_floor(agents=3, insiders=4)

RULES = {"remote_access", "removable_write", "drive_mount", "screen_capture", "bulk_id_copy", "id_to_messaging",
         "ids_to_messaging", "browse_without_case"}


def _get(c: CollectorProcess, path: str, auth: dict[str, str], **params: Any) -> Any:
    reply = requests.get(c.url + path, headers=auth, params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_live_floor_moves_the_wall_and_raises_an_alert_today(tmp_path: Path) -> None:
    c = CollectorProcess(tmp_path / "collector")
    c.start()
    running = None
    try:
        options = LiveOptions(agents=4, insiders=1, first_act_s=6.0, act_every_s=20.0)
        began = time.monotonic()
        running = start_live(c.url, c.data, tmp_path / "live", options, seed=3)
        ids = {spec.agent_id for spec in running.specs}
        insiders = {spec.agent_id for spec in running.specs if spec.acts}
        assert len(ids) == 4 and len(insiders) == 1
        assert {spec.acts[0][1] for spec in running.specs if spec.acts} <= set(ACTS)
        token = run_cli(COLLECTOR, "token", "create", "--data", str(c.data), "--user", "admin").strip()
        auth = {"Authorization": f"Bearer {token.splitlines()[-1]}"}
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the collector's default zone

        def wall() -> dict[str, dict[str, Any]]:
            return {row["agent_id"]: row for row in _get(c, "/api/v1/wall", auth)["agents"] if row["agent_id"] in ids}

        first = wait_for(lambda: (w := wall()) and len(w) == 4 and all(r["last_event"] for r in w.values()) and w,
                         40, interval=0.5, what="every live agent on today's wall")
        assert {row["team"] for row in first.values()} == {LIVE_TEAM}
        assert all(row["last_event"].startswith(today) for row in first.values())
        assert all(row["state"] in ("active", "idle") for row in first.values())

        def moved() -> dict[str, dict[str, Any]] | None:
            now = wall()
            return now if any(now[a]["last_event"] > first[a]["last_event"] for a in ids) else None

        later = wait_for(moved, 30, interval=0.5, what="today's wall to gain events")
        assert later != first

        def alert() -> dict[str, Any] | None:
            found = _get(c, "/api/v1/alerts", auth, date=today)["alerts"]
            return next((a for a in found if a["agent_id"] in insiders), None)

        raised = wait_for(alert, 40, interval=0.5, what="a real-time alert for today")
        assert time.monotonic() - began < 60, "the first alert comes within the first minute of watching"
        assert raised["date"] == today and raised["rule"] in RULES and raised["team"] == LIVE_TEAM
        assert raised["severity"] in ("medium", "high", "critical")

        started = time.monotonic()
        codes = running.floor.stop()
        running = None
        assert codes == [0, 0, 0, 0] and time.monotonic() - started < 20
        stopped = wall()
        assert {row["state"] for row in stopped.values()} == {"offline"}  # each said agent.stop just now
    finally:
        if running is not None:
            running.floor.stop()
        c.kill()


def test_a_stale_pid_file_never_stops_an_unrelated_process(tmp_path: Path) -> None:
    """After a crash or a reboot the PIDs in ``live.pids`` and ``serve.pid`` may belong to anything of
    the user's: only a process that is this demo's live agent or server gets the SIGTERM."""
    import subprocess
    import sys

    from simulator.demo import LIVE_PIDS, _stop_previous

    root = tmp_path / "demo"
    root.mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    stranger = subprocess.Popen(sleep)
    other_demo = subprocess.Popen([*sleep, "simulator.live_agent", "--home", str(tmp_path / "elsewhere")])
    leftover = subprocess.Popen([*sleep, "simulator.live_agent", "--home", str(root / "live" / "live-1")])
    try:
        (root / LIVE_PIDS).write_text(f"{stranger.pid} {other_demo.pid} {leftover.pid}")
        (root / "serve.pid").write_text(str(stranger.pid))
        _stop_previous(root)
        assert leftover.wait(15) is not None, "this demo's leftover live agent is stopped"
        time.sleep(0.3)
        assert stranger.poll() is None and other_demo.poll() is None, "unrelated processes are left alone"
    finally:
        for proc in (stranger, other_demo, leftover):
            proc.kill()
            proc.wait(10)
