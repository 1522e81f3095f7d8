""""Agent silent" and "agent stopped": the collector notices by itself that an agent went away mid-shift.

Both need the agent's shift to be on and the agent to have reported during this shift (or its grace
period before it; a night shift runs over midnight); a revoked agent (the admin's retirement, which
is how an uninstall is recorded) raises neither.

- *Silent*: no batch reached the collector for ``silent_after_min`` minutes and the last event it
  sent was not a clean ``agent.stop`` (a killed agent, a crash, a pulled cable or tampering).
  Severity and on/off come from the report's ``agent_silenced`` rule.
- *Stopped*: the last event it sent was a clean ``agent.stop``, and no ``agent.start`` followed for
  more than the policy's ``stop_grace_min`` (a reboot or an update restarts within it). A stop that
  close to the end of the shift is the end of the shift: by then the shift is over. Severity and
  on/off come from the ``stopped_in_shift`` rule.

Each alert is filed under the local day of the agent's last event, whose timeline holds its evidence
and its link (a silence noticed just after midnight belongs to the day before). Each silence or stop is
one alert: its key is the moment the agent was last heard from (the stop's
time), so checking again and again, in one process or several, never raises it twice; a later one is
a new alert.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo
from typing import Any

from collector.alerts.clock import Clock
from collector.alerts.evaluate import Contexts, RuleSource
from collector.alerts.model import SILENCE_RULE, STOP_RULE, Alert, Reason
from collector.storage.base import Store
from detectors.presence import shift_on, shift_started, stopped_in_shift
from detectors.reasons import PHRASES, english, fmt

__all__ = ["SilenceChecker", "shift_on", "shift_started"]
log = logging.getLogger(__name__)
FEATURE = "silent_shift_min"
STOP_FEATURE = "stopped_shift_min"


class SilenceChecker:
    def __init__(self, store: Store, contexts: Contexts, tz: tzinfo, clock: Clock, rules: RuleSource,
                 silent_after_min: float) -> None:
        self.store = store
        self.contexts = contexts
        self.tz = tz
        self.clock = clock
        self.rules = rules
        self.silent_after_s = silent_after_min * 60

    def check(self) -> list[Alert]:
        """Candidate alerts for every agent that is silent or stopped right now."""
        now = self.clock.time()
        local = datetime.fromtimestamp(now, self.tz)
        today = local.date().isoformat()
        rules = self.rules.for_day(today).by_name
        silence, stop = rules.get(SILENCE_RULE), rules.get(STOP_RULE)
        silence_on = silence is not None and silence.enabled and self.silent_after_s > 0
        stop_on = stop is not None and stop.enabled
        if not silence_on and not stop_on:
            return []
        out = []
        for agent in self.store.list_agents():
            last_seen = agent.get("last_seen")
            if agent.get("revoked_at") is not None or last_seen is None:
                continue
            if not stop_on and now - float(last_seen) < self.silent_after_s:
                continue  # a stop can arrive late (a replay, a delayed upload): then its own time counts
            heard = datetime.fromtimestamp(float(last_seen), self.tz)
            ctx = self.contexts.live_context(agent["agent_id"], local)  # the shift on now, as entered
            if not shift_on(ctx.shift_start, ctx.shift_end, local.hour * 60 + local.minute):
                continue
            grace = timedelta(minutes=ctx.policy.shift_grace_min)
            if heard < shift_started(ctx.shift_start, local) - grace:
                continue  # not heard from during this shift: absent, not silent
            last = self.store.alerts.last_event(agent["agent_id"])
            if last is None:
                continue
            stopped_at = datetime.fromisoformat(last["ts"]) if last["kind"] == "agent.stop" else None
            if stopped_at is not None and stopped_at >= shift_started(ctx.shift_start, local) - grace:
                if stop_on and stop is not None and stopped_in_shift(
                        (ctx.shift_start, ctx.shift_end), ctx.policy.shift_grace_min, ctx.policy.stop_grace_min,
                        stopped_at, local):
                    out.append(self._stopped(agent, ctx.team, ctx.policy.stop_grace_min, last, now, stop))
                continue
            # a stop from before this shift, though the agent was heard during it (a batch numbered past all the
            # agent's events carried it), is not how this shift ended: judged as a silence
            if not silence_on or silence is None or now - last_seen < self.silent_after_s:
                continue
            rule = silence
            minutes = (now - float(last_seen)) / 60
            out.append(Alert(
                key=f"{agent['agent_id']}|{SILENCE_RULE}|{int(float(last_seen) * 1000)}", rule=SILENCE_RULE,
                severity=rule.severity, agent_id=agent["agent_id"], team=ctx.team, day=last["day"], seq=last["seq"],
                title=rule.help_en, title_zh=rule.help_zh, value=round(minutes, 1),
                threshold=self.silent_after_s / 60, reasons=[self._reason(minutes, heard)],
                evidence=[{"ts": last["ts"], "seq": last["seq"], "what": f"last event: {last['kind']}",
                           "what_zh": f"最后事件：{last['kind']}"}]))
        return out

    def _stopped(self, agent: dict[str, Any], team: str, grace_min: int, last: dict[str, Any], now: float,
                 rule: Any) -> Alert:
        """The alert for an agent whose last word was a clean agent.stop, once the grace has passed."""
        stopped_at = datetime.fromisoformat(last["ts"])
        minutes = (now - stopped_at.timestamp()) / 60
        clock = stopped_at.astimezone(self.tz).strftime("%H:%M:%S")
        en, zh = PHRASES[STOP_FEATURE]
        reason = Reason(STOP_FEATURE, round(minutes, 1), float(grace_min),
                        f"{english(en, STOP_FEATURE, minutes)}; clean agent.stop at {clock}, no restart within "
                        f"{fmt(STOP_FEATURE, grace_min)}",
                        f"{zh.format(v=fmt(STOP_FEATURE, minutes, 'zh'))}；{clock} 正常停止，"
                        f"{fmt(STOP_FEATURE, grace_min, 'zh')}内未重启")
        return Alert(
            key=f"{agent['agent_id']}|{STOP_RULE}|{int(stopped_at.timestamp() * 1000)}", rule=STOP_RULE,
            severity=rule.severity, agent_id=agent["agent_id"], team=team, day=last["day"], seq=last["seq"],
            title=rule.help_en, title_zh=rule.help_zh, value=round(minutes, 1), threshold=float(grace_min),
            reasons=[reason], evidence=[{"ts": last["ts"], "seq": last["seq"], "what": "last event: agent.stop",
                                         "what_zh": "最后事件：agent.stop"}])

    def _reason(self, minutes: float, heard: datetime) -> Reason:
        en, zh = PHRASES[FEATURE]
        limit = self.silent_after_s / 60
        clock = heard.strftime("%H:%M:%S")
        return Reason(FEATURE, round(minutes, 1), limit,
                      f"{english(en, FEATURE, minutes)}; last batch at {clock}, no clean agent.stop; "
                      f"alert after {fmt(FEATURE, limit)}",
                      f"{zh.format(v=fmt(FEATURE, minutes, 'zh'))}；最后一批于 {clock}，无正常停止记录；"
                      f"超过 {fmt(FEATURE, limit, 'zh')} 告警")
