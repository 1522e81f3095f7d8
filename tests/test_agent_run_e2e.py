"""`seatguard-agent run` with its real sensors on a virtual X display, shipping to a real collector."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.testing.sensors import XSession, xvfb
from tests.conftest import AGENT, FAST_AGENT_ENV, RAW_IDS, CollectorProcess, wait_for

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
                                reason="needs Xvfb and xdotool (make test installs them: scripts/system-deps.sh)")


@pytest.fixture
def x() -> Iterator[XSession]:
    with xvfb() as session:
        yield session


def _events(collector: CollectorProcess, agent_id: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(collector.data / "seatguard.db")
    try:
        rows = conn.execute("SELECT data FROM events WHERE agent_id=? ORDER BY seq", (agent_id,)).fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


def test_run_ships_what_happens_at_the_seat(collector: CollectorProcess, x: XSession, tmp_path: Path) -> None:
    user_home = tmp_path / "user"
    for folder in ("Documents", "Downloads", "Desktop"):
        (user_home / folder).mkdir(parents=True)
    home = tmp_path / "agent"
    collector.enroll(home, "pc-live-x")
    env = {**x.env, **FAST_AGENT_ENV, "HOME": str(user_home), "SEATGUARD_AGENT_BATCH_MAX_AGE_S": "0.3"}
    agent = subprocess.Popen([AGENT, "run", "--home", str(home), "--heartbeat-s", "2"], env=env,
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.log").open("wb"))
    try:
        def kinds() -> set[str]:
            return {e["kind"] for e in _events(collector, "pc-live-x")}

        wait_for(lambda: "agent.start" in kinds(), 30, what="agent.start at the collector")
        window = x.open_window("Case C-2026-0012345 - CRM", "chrome", tmp_path)
        x.xdotool("windowactivate", "--sync", str(window))
        x.xdotool("key", "ctrl+c")
        x.copy_text(f"客户身份证 {RAW_IDS[0]}")
        (user_home / "Documents" / "export.csv").write_text("id,amount\n1,200\n", encoding="utf-8")
        tool = tmp_path / "AnyDesk"
        shutil.copy("/bin/sleep", tool)
        sleeper = subprocess.Popen([str(tool), "30"])
        try:
            wanted = {"app.focus", "case.open", "clipboard.copy", "file.write", "process.start"}
            wait_for(lambda: wanted <= kinds(), 60, interval=0.3, what=f"{wanted} at the collector")
        finally:
            sleeper.kill()
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    events = _events(collector, "pc-live-x")
    assert events[-1]["kind"] == "agent.stop"
    copy = next(e for e in events if e["kind"] == "clipboard.copy" and e["classes"]["id_number"] == 1)
    assert RAW_IDS[0] not in json.dumps(events, ensure_ascii=False)
    assert copy["preview"].endswith(RAW_IDS[0][-4:]) and copy["app"].lower().startswith("chrome")
    case = next(e for e in events if e["kind"] == "case.open")
    assert case["case_id"] == "C-2026-0012345"
    started = [e for e in events if e["kind"] == "process.start" and e["category"] == "remote_access"]
    assert started and started[0]["name"] == "AnyDesk"
    assert any(e["kind"] == "file.write" and e["path"].endswith("export.csv") for e in events)
    assert os.environ.get("DISPLAY") != x.display  # the suite's own environment was not touched
