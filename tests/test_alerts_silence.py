"""'Agent silent': a killed agent yields exactly one alert per silence; a cleanly stopped one is
'agent stopped' instead (see tests/test_alerts_stop.py).

Time is a :class:`ManualClock`, so the silence checker is driven without sleeping. A test that takes
``start`` (a local HH:MM) runs at the latest past moment with that time: the agents stamp their events
and the collector its receipts with that clock, so the scenario does not depend on when it runs, and
23:52 and 00:03 put midnight between the agent's last batch and the alert.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import collector.ingest as ingest_module
from collector.alerts import AlertConfig
from collector.alerts.clock import ManualClock
from collector.alerts.service import AlertService
from collector.alerts.silence import shift_on, shift_started
from simulator.testing.alerts import SealedAgent, WebhookReceiver, install, open_collector, wait_until
from tests.conftest import DATA_DIRS
from tests.storage_fixtures import BACKENDS, fresh_url

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60.0


def _shift(start_h: float, end_h: float, at: datetime | None = None) -> str:
    """A shift from ``start_h`` to ``end_h`` hours around ``at`` (default: the local time now; the shift
    may run over midnight)."""
    now = at or datetime.now(TZ)
    return f"{(now + timedelta(hours=start_h)):%H:%M}-{(now + timedelta(hours=end_h)):%H:%M}"


def _latest(hhmm: str) -> datetime:
    """The latest past local moment at ``hhmm``."""
    now = datetime.now(TZ)
    at = now.replace(hour=int(hhmm[:2]), minute=int(hhmm[3:]), second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=1)


def _receipts_by(clock: ManualClock) -> type[datetime]:
    """``datetime`` for the ingest module, whose ``now`` (the receipt time of a batch) is ``clock``'s."""

    class Received(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.fromtimestamp(clock.time(), tz)

    return Received


@pytest.fixture
def start() -> str | None:
    """The local start time of the scenario (HH:MM); None: the real time now (parametrized by tests)."""
    return None


@dataclass
class Env:
    collector: Any
    service: AlertService
    clock: ManualClock
    hook: WebhookReceiver
    stamped: bool = False  # agents stamp their events with the clock (see ``start``)

    def agent(self, name: str, shift: str | None = None) -> SealedAgent:
        at = datetime.fromtimestamp(self.clock.time(), TZ)
        return SealedAgent(self.collector, name, shift=shift or _shift(-3, 4, at),
                           clock=self.clock if self.stamped else None)

    def ingest(self, agent: SealedAgent, *kinds: str) -> None:
        fields: dict[str, dict[str, Any]] = {
            "agent.start": {"version": "0.1", "os": "Windows 11", "hostname": "pc", "user": "u"},
            "agent.heartbeat": {"spool_depth": 0, "dropped_total": 0, "cpu_pct": 0.5, "rss_mb": 40.0},
            "app.focus": {"app": "crm.exe", "title": "CRM", "pid": 3},
            "agent.stop": {"reason": "shutdown"}}
        self.collector.ingest.handle(agent.seal([agent.event(k, **fields[k]) for k in kinds]))

    def silent_alerts(self) -> list[dict[str, Any]]:
        return [a for a in (x.to_dict() for x in self.service.store.search()) if a["rule"] == "agent_silenced"]


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path, start: str | None,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with fresh_url(request.param, tmp_path / "db") as url:
        collector = open_collector(tmp_path / "c", None if request.param == "sqlite" else url)
        DATA_DIRS.append(tmp_path / "c")
        hook = WebhookReceiver()
        clock = ManualClock(time.time() if start is None else _latest(start).timestamp())
        if start is not None:
            monkeypatch.setattr(ingest_module, "datetime", _receipts_by(clock))
        service = install(collector, AlertConfig(webhook_url=hook.url, webhook_secret="k", wall="off",
                                                 silent_after_min=10), clock)
        yield Env(collector, service, clock, hook, stamped=start is not None)
        service.close()
        collector.close()
        hook.close()


@pytest.mark.parametrize("start", ["10:00", "23:52", "00:03"])
def test_killed_agent_gives_one_alert_and_a_clean_stop_no_silence(env: Env, start: str) -> None:
    heard_day = datetime.fromtimestamp(env.clock.time(), TZ).date().isoformat()
    killed, stopped = env.agent("pc-killed"), env.agent("pc-stopped")
    env.ingest(killed, "agent.start", "agent.heartbeat", "app.focus", "agent.heartbeat")
    env.ingest(stopped, "agent.start", "agent.heartbeat", "agent.stop")
    assert env.service.wait_idle(10)
    assert env.service.check_silence() == []
    env.clock.advance(9 * MIN)
    assert env.service.check_silence() == [], "not silent for long enough yet"

    env.clock.advance(2 * MIN)
    raised = [a for a in env.service.check_silence() if a.rule == "agent_silenced"]
    assert [(a.agent_id, a.rule, a.severity) for a in raised] == [("pc-killed", "agent_silenced", "high")]
    for _ in range(3):
        env.clock.advance(15 * MIN)
        again = [a for a in env.service.check_silence() if a.rule == "agent_silenced"]
        assert again == [], "one alert per silence, however often the checker looks"
    assert len(env.silent_alerts()) == 1

    wait_until(lambda: len(env.hook.bodies()) == 2, 10, "the stop and the silence alert at the webhook")
    assert env.service.wait_idle(10)
    [body] = [b for b in env.hook.bodies() if b["alert"]["rule"] == "agent_silenced"]
    alert = body["alert"]
    assert alert["agent_id"] == "pc-killed" and 10.5 <= alert["value"] <= 11 and alert["threshold"] == 10
    assert "silent for 11 min" in alert["reasons"][0]["text"] and "no clean agent.stop" in alert["reasons"][0]["text"]
    assert alert["date"] == heard_day, "filed under the day of its evidence, also when raised after midnight"
    last = max(e["seq"] for e in env.collector.store.timeline("pc-killed", alert["date"]))
    assert alert["link"].endswith(f"#seq-{last}") and alert["evidence"][0]["what"] == "last event: agent.heartbeat"


def test_a_later_silence_is_a_new_alert_within_the_rate_limit(env: Env) -> None:
    agent = env.agent("pc-flaky")
    env.ingest(agent, "agent.start", "agent.heartbeat")
    env.clock.advance(12 * MIN)
    assert len(env.service.check_silence()) == 1
    env.clock.set(time.time())  # the agent comes back: a new batch now
    env.ingest(agent, "agent.start", "agent.heartbeat")
    assert env.service.check_silence() == []
    env.clock.advance(12 * MIN)
    assert env.service.check_silence() == [], "a second silence 12 min after the first alert is rate-limited"
    env.clock.set(time.time())
    env.ingest(agent, "agent.start", "agent.heartbeat")
    env.clock.set(time.time() + 30 * MIN)
    assert len(env.service.check_silence()) == 1, "past the rate-limit window a new silence is delivered"
    found = env.silent_alerts()
    assert len({a["key"] for a in found}) == 3
    assert sorted(str(a["suppressed"]) for a in found) == ["None", "None", "rate_limited"]


def test_no_silence_alert_outside_the_shift_or_when_revoked(env: Env) -> None:
    off_shift = env.agent("pc-evening", shift=_shift(3, 6))
    revoked = env.agent("pc-revoked")
    env.ingest(off_shift, "agent.start", "agent.heartbeat")
    env.ingest(revoked, "agent.start", "agent.heartbeat")
    env.collector.store.revoke_agent("pc-revoked", time.time())
    env.clock.advance(30 * MIN)
    assert env.service.check_silence() == []


def test_a_second_checker_does_not_raise_the_same_silence_again(env: Env) -> None:
    agent = env.agent("pc-two-collectors")
    env.ingest(agent, "agent.start", "agent.heartbeat")
    env.clock.advance(11 * MIN)
    other = env.collector.build_alert_service(AlertConfig(wall="off", silent_after_min=10), env.clock, [])
    try:
        assert len(env.service.check_silence()) == 1
        assert other.check_silence() == [], "another collector process sees the stored alert"
    finally:
        other.close()
    assert len(env.silent_alerts()) == 1


def test_an_agent_not_heard_from_during_this_shift_is_absent_not_silent(env: Env) -> None:
    agent = env.agent("pc-yesterday")
    env.ingest(agent, "agent.start", "agent.heartbeat")
    env.clock.advance(24 * 3600)  # the same time the next day: its shift is on, nothing heard since yesterday
    assert env.service.check_silence() == []
    env.clock.advance(-(24 * 3600 - 11 * MIN))
    assert len(env.service.check_silence()) == 1, "the same agent 11 minutes after its last batch is silent"


def test_the_current_shift_began_at_its_latest_start() -> None:
    at = datetime(2026, 3, 3, 1, 30, tzinfo=TZ)
    assert shift_started("22:00", at) == datetime(2026, 3, 2, 22, 0, tzinfo=TZ)
    assert shift_started("00:00", at) == datetime(2026, 3, 3, 0, 0, tzinfo=TZ)
    assert shift_started("01:30", at) == at


@pytest.mark.parametrize(("start", "end", "minute", "on"), [
    ("09:00", "18:00", 9 * 60, True), ("09:00", "18:00", 18 * 60, False), ("22:00", "06:00", 23 * 60, True),
    ("22:00", "06:00", 5 * 60, True), ("22:00", "06:00", 12 * 60, False), ("00:00", "00:00", 3 * 60, True),
])
def test_shift_windows_follow_the_rollup_convention(start: str, end: str, minute: int, on: bool) -> None:
    assert shift_on(start, end, minute) is on
