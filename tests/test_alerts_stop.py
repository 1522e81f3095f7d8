"""'Agent stopped': a clean agent.stop during the shift is an alert once a restart is overdue, and shows
on the live wall; a quick restart, the end of the shift and the admin's retirement are not."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_alerts_silence import MIN, TZ, Env, _shift, env, start  # noqa: F401


def _stop_alerts(e: Env) -> list[dict[str, object]]:
    return [a for a in (x.to_dict() for x in e.service.store.search()) if a["rule"] == "stopped_in_shift"]


def _wall(e: Env) -> dict[str, str]:
    rows = e.collector.wall.states(e.collector.store.list_agents(), now=e.clock.time())
    return {r["agent_id"]: r["state"] for r in rows}


@pytest.mark.parametrize("start", ["10:00", "23:52", "00:03"])
def test_a_clean_stop_in_the_shift_is_one_alert_and_shows_on_the_wall(env: Env, start: str) -> None:  # noqa: F811
    stop_day = datetime.fromtimestamp(env.clock.time(), TZ).date().isoformat()
    agent = env.agent("pc-stop")
    env.ingest(agent, "agent.start", "agent.heartbeat", "agent.stop")
    assert env.service.wait_idle(10)
    env.clock.advance(9 * MIN)
    assert env.service.check_silence() == [], "within stop_grace_min it may be a reboot"
    assert _wall(env)["pc-stop"] == "offline"
    env.clock.advance(3 * MIN)
    [alert] = env.service.check_silence()
    assert (alert.agent_id, alert.rule, alert.severity) == ("pc-stop", "stopped_in_shift", "high")
    assert alert.evidence[0]["what"] == "last event: agent.stop"
    assert alert.day == stop_day, "filed under the day of the stop, also when raised after midnight"
    assert "clean agent.stop at" in alert.reasons[0].text and "no restart within 10 min" in alert.reasons[0].text
    assert _wall(env)["pc-stop"] == "agent_stopped"
    for _ in range(3):
        env.clock.advance(15 * MIN)
        assert env.service.check_silence() == [], "one alert per stop, however often the checker looks"
    assert len(_stop_alerts(env)) == 1


def test_a_quick_restart_is_no_alert(env: Env) -> None:  # noqa: F811
    agent = env.agent("pc-reboot")
    before = datetime.now(UTC) - timedelta(minutes=8)
    boot = {"version": "0.1", "os": "Windows 11", "hostname": "pc", "user": "u"}
    env.collector.ingest.handle(agent.seal([agent.event("agent.start", before, **boot),
                                            agent.event("agent.stop", before + timedelta(seconds=5), reason="x")]))
    env.ingest(agent, "agent.start", "agent.heartbeat")   # back up 8 minutes later: within the grace
    env.clock.advance(5 * MIN)
    assert env.service.check_silence() == []
    assert _wall(env)["pc-reboot"] == "active"
    assert _stop_alerts(env) == []


def test_no_stop_alert_outside_the_shift_or_after_the_admin_retired_the_agent(env: Env) -> None:  # noqa: F811
    evening = env.agent("pc-evening", shift=_shift(3, 6))
    uninstalled = env.agent("pc-uninstalled")
    for agent in (evening, uninstalled):
        env.ingest(agent, "agent.start", "agent.heartbeat", "agent.stop")
    env.collector.store.revoke_agent("pc-uninstalled", time.time())
    env.clock.advance(30 * MIN)
    assert env.service.check_silence() == []
    assert _wall(env) == {"pc-evening": "offline", "pc-uninstalled": "offline"}


def test_stops_are_checked_with_the_silence_alerts_switched_off(env: Env) -> None:  # noqa: F811
    from collector.alerts import AlertConfig

    agent = env.agent("pc-stop-off")
    env.ingest(agent, "agent.start", "agent.heartbeat", "agent.stop")
    env.clock.advance(12 * MIN)
    off = env.collector.build_alert_service(AlertConfig(wall="off", silent_after_min=0), env.clock, [])
    try:
        assert [a.rule for a in off.check_silence()] == ["stopped_in_shift"], "stops do not need the silence check"
    finally:
        off.close()


def test_a_stop_numbered_past_everything_from_before_the_shift_does_not_hide_a_silence(env: Env) -> None:  # noqa: F811
    """The insider signs one batch with the agent's own key: a clean stop of two days ago numbered 9,999,999,999,
    so that it stays the agent's newest event by number for ever. Killing the agent mid-shift afterwards is
    still a silence: a stop from before this shift is not how this shift ended."""
    from contract.envelope import MAX_SEQ
    from contract.schema import format_ts

    agent = env.agent("pc-pinned")
    env.ingest(agent, "agent.start", "agent.heartbeat")
    pinned = {"schema": 1, "agent_id": "pc-pinned", "seq": MAX_SEQ, "kind": "agent.stop", "reason": "shutdown",
              "ts": format_ts(datetime.now(UTC) - timedelta(days=2))}
    env.collector.ingest.handle(agent.seal([pinned]))
    env.ingest(agent, "app.focus", "agent.heartbeat")  # then the agent is killed
    assert env.collector.store.alerts.last_event("pc-pinned")["seq"] == MAX_SEQ
    env.clock.advance(11 * MIN)
    assert [a.rule for a in env.service.check_silence()] == ["agent_silenced"]
