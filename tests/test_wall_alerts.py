"""Alerts reach open live-wall streams, and only viewers whose scope includes the alert's team."""

from __future__ import annotations

import asyncio

from collector import wall
from collector.accounts import Principal


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
