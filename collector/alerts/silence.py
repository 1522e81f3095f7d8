""""Agent silent": the collector notices by itself that an agent stopped reporting mid-shift.

An agent is silent when no batch reached the collector for ``silent_after_min`` minutes while its
shift is on, it had reported during this shift (or its grace period before it; a night shift runs
over midnight), and the last event it sent was not a clean
``agent.stop`` (a PC shut down properly says so; a killed agent, a pulled cable or tampering does
not). Each silence is one alert: its key is the moment the agent was last heard from, so checking
again and again, in one process or several, never raises it twice; a later silence is a new alert.
Severity and on/off come from the report's ``agent_silenced`` rule.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from collector.alerts.clock import Clock
from collector.alerts.evaluate import RuleSource
from collector.alerts.model import SILENCE_RULE, Alert, Reason
from collector.storage import tables as t
from detectors.reasons import PHRASES, english, fmt

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger(__name__)
FEATURE = "silent_shift_min"


def shift_started(start: str, local: datetime) -> datetime:
    """The latest local moment at ``start`` (HH:MM) not after ``local``: when the current shift began."""
    begin = datetime.combine(local.date(), time(int(start[:2]), int(start[3:])), local.tzinfo)
    return begin if begin <= local else begin - timedelta(days=1)


def shift_on(start: str, end: str, minute: int) -> bool:
    """Is ``minute`` (of the local day) inside the shift? Same convention as the rollups: equal ends
    mean all day, and a shift may run over midnight."""
    a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (start, end))
    if a == b:
        return True
    return a <= minute < b if a < b else (minute >= a or minute < b)


class SilenceChecker:
    def __init__(self, collector: Collector, clock: Clock, rules: RuleSource, silent_after_min: float) -> None:
        self.collector = collector
        self.clock = clock
        self.rules = rules
        self.silent_after_s = silent_after_min * 60

    def check(self) -> list[Alert]:
        """Candidate alerts for every agent that is silent right now."""
        if self.silent_after_s <= 0:
            return []
        now = self.clock.time()
        local = datetime.fromtimestamp(now, self.collector.settings.tz)
        today = local.date().isoformat()
        rule = self.rules.for_day(today).by_name.get(SILENCE_RULE)
        if rule is None or not rule.enabled:
            return []
        out = []
        for agent in self.collector.store.list_agents():
            last_seen = agent.get("last_seen")
            if agent.get("revoked_at") is not None or last_seen is None or now - last_seen < self.silent_after_s:
                continue
            heard = datetime.fromtimestamp(float(last_seen), self.collector.settings.tz)
            ctx = self.collector.rollups.context(agent["agent_id"])
            if not shift_on(ctx.shift_start, ctx.shift_end, local.hour * 60 + local.minute):
                continue
            grace = timedelta(minutes=ctx.policy.shift_grace_min)
            if heard < shift_started(ctx.shift_start, local) - grace:
                continue  # not heard from during this shift: absent, not silent
            last = self._last_event(agent["agent_id"])
            if last is None or last["kind"] == "agent.stop":
                continue
            minutes = (now - float(last_seen)) / 60
            out.append(Alert(
                key=f"{agent['agent_id']}|{SILENCE_RULE}|{int(float(last_seen) * 1000)}", rule=SILENCE_RULE,
                severity=rule.severity, agent_id=agent["agent_id"], team=ctx.team, day=today, seq=last["seq"],
                title=rule.help_en, title_zh=rule.help_zh, value=round(minutes, 1),
                threshold=self.silent_after_s / 60, reasons=[self._reason(minutes, heard)],
                evidence=[{"ts": last["ts"], "seq": last["seq"], "what": f"last event: {last['kind']}",
                           "what_zh": f"最后事件：{last['kind']}"}]))
        return out

    def _reason(self, minutes: float, heard: datetime) -> Reason:
        en, zh = PHRASES[FEATURE]
        limit = self.silent_after_s / 60
        clock = heard.strftime("%H:%M:%S")
        return Reason(FEATURE, round(minutes, 1), limit,
                      f"{english(en, FEATURE, minutes)}; last batch at {clock}, no clean agent.stop; "
                      f"alert after {fmt(FEATURE, limit)}",
                      f"{zh.format(v=fmt(FEATURE, minutes, 'zh'))}；最后一批于 {clock}，无正常停止记录；"
                      f"超过 {fmt(FEATURE, limit, 'zh')} 告警")

    def _last_event(self, agent_id: str) -> dict[str, Any] | None:
        ev = t.events
        with self.collector.store._read() as conn:
            row = conn.execute(select(ev.c.kind, ev.c.seq, ev.c.ts).where(ev.c.agent_id == agent_id)
                               .order_by(ev.c.seq.desc()).limit(1)).first()
        return None if row is None else {"kind": str(row.kind), "seq": int(row.seq), "ts": str(row.ts)}
