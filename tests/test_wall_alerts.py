"""Alerts reach open live-wall streams, and only viewers whose scope includes the alert's team; the wall
page opens with today's open alerts in the viewer's scope (audited like ``/alerts``)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from collector import wall
from collector.accounts import Principal
from collector.alerts.model import Alert
from collector.web.wall_page import RECENT_ALERTS
from tests.conftest import RAW_IDS
from tests.web_fixtures import World, signed_in


def test_published_alerts_reach_subscribers_in_their_loop() -> None:
    async def scenario() -> tuple[set[str], list[dict[str, object]]]:
        sub = wall.hub().subscribe()
        try:
            wall.publish_alert({"event": "alert.raised", "alert": {"agent_id": "pc-9", "team": "cs-a",
                                                                    "severity": "high", "rule": "usb"}})
            woke = await sub.wait(2.0)
            return woke, sub.take_alerts()
        finally:
            wall.hub().unsubscribe(sub)

    woke, alerts = asyncio.run(scenario())
    assert woke == {"pc-9"}
    assert alerts == [{"agent_id": "pc-9", "team": "cs-a", "severity": "high", "rule": "usb",
                       "event": "alert.raised"}]


def test_scope_decides_who_sees_an_alert() -> None:
    alert = {"team": "cs-a"}
    assert Principal("m", "manager", ("cs-a",)).can_see_team(str(alert["team"]))
    assert not Principal("m", "manager", ("cs-b",)).can_see_team(str(alert["team"]))
    assert Principal("s", "security").can_see_team(str(alert["team"]))


def _raise(world: World, key: str, agent_id: str, team: str, day: str, now: float, title: str = "") -> int:
    """An alert stored the way the alert service stores one (real database, masked body)."""
    alert = Alert(key=key, rule="removable_writes", severity="high", agent_id=agent_id, team=team, day=day,
                  seq=7, title=title or f"{agent_id} wrote files to a removable drive",
                  title_zh="向移动存储写入文件", value=5, threshold=1, reasons=[])
    outcome = world.collector.alerts.store.record(alert, now, 0.0, ())
    assert outcome.alert.id is not None
    return outcome.alert.id


def _listed(html: str) -> list[int]:
    block = re.search(r'<ul class="wall-alerts" id="wall-alerts"[^>]*>(.*?)</ul>', html, re.S)
    assert block, "no alert list on the wall"
    return [int(n) for n in re.findall(r'id="wall-alert-(\d+)"', block.group(1))]


def test_the_wall_opens_with_todays_open_alerts_in_scope(tmp_path: Path) -> None:
    world = World(tmp_path / "collector")
    try:
        today = datetime.now(world.collector.settings.tz).date()
        now = time.time()
        a1 = _raise(world, "w:a1", "pc-a1", "cs-a", today.isoformat(), now - 60,
                    title=f"copied {RAW_IDS[2]} to a chat app")
        b1 = _raise(world, "w:b1", "pc-b1", "cs-b", today.isoformat(), now - 50)
        acked = _raise(world, "w:a2", "pc-a2", "cs-a", today.isoformat(), now - 40)
        world.collector.alerts.store.ack(acked, "sec", "seen", now - 30)
        old = _raise(world, "w:a3", "pc-a3", "cs-a", (today - timedelta(days=1)).isoformat(), now - 86400)

        sec = signed_in(world.app, "sec")
        page = sec.get("/wall")
        assert page.status_code == 200
        assert _listed(page.text) == [b1, a1]  # newest first; acknowledged and yesterday's are left out
        assert acked not in _listed(page.text) and old not in _listed(page.text)
        assert "pc-a1 · " in page.text and RAW_IDS[2] not in page.text  # masked values only

        mgr_a = signed_in(world.app, "mgr-a").get("/wall").text
        assert _listed(mgr_a) == [a1]
        mgr_b = signed_in(world.app, "mgr-b").get("/wall").text
        assert _listed(mgr_b) == [b1]  # another team's alert is not on this manager's wall
        assert "pc-a1" not in mgr_b

        read = world.collector.access.search(actor="mgr-a", action="read_alerts")
        assert {r["agent_id"] for r in read} == {"pc-a1"} and all(r["allowed"] for r in read)
        assert today.isoformat() in read[0]["target"]
        assert {r["agent_id"] for r in world.collector.access.search(actor="sec", action="read_alerts")} \
            == {"pc-a1", "pc-b1"}
        assert not world.collector.access.search(actor="mgr-b", action="read_alerts", target="pc-a1")
    finally:
        world.close()


def test_the_wall_starts_with_at_most_the_newest_alerts(tmp_path: Path) -> None:
    world = World(tmp_path / "collector")
    try:
        day = datetime.now(world.collector.settings.tz).date().isoformat()
        now = time.time()
        ids = [_raise(world, f"w:{i}", f"pc-{i}", "cs-a", day, now - 100 + i) for i in range(RECENT_ALERTS + 5)]
        mgr = signed_in(world.app, "mgr-a")
        assert _listed(mgr.get("/wall").text) == ids[::-1][:RECENT_ALERTS]
        world.collector.alerts.config = replace(world.collector.alerts.config, wall="off")
        before = len(world.collector.access.search(actor="mgr-a", action="read_alerts"))
        assert _listed(mgr.get("/wall").text) == []  # alert_wall = "off": no alerts on the wall
        assert len(world.collector.access.search(actor="mgr-a", action="read_alerts")) == before
    finally:
        world.close()
