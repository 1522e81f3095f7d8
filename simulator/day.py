"""One agent-day rendered into event records: the sessions the agent ran, the work, the breaks,
heartbeats, and what a killed agent loses."""

from __future__ import annotations

from operator import attrgetter

from simulator import activities
from simulator.casework import casework
from simulator.clock import HOUR, MINUTE, SECOND
from simulator.desktop import Record
from simulator.workday import Block, Break, Session, WorkDay

AGENT_VERSION = "0.1.0"
WIND_DOWN = 8 * MINUTE  # no new case this close to the end of the shift
ORDER = attrgetter("t", "prio")  # sort key: time, then agent.start first and agent.stop last


class RenderedDay(WorkDay):
    """Renders a :class:`DayPlan` into event records."""

    # ------------------------------------------------------------ rendering

    def render(self) -> list[Record]:
        runs: list[tuple[int, Session | None]] = [(s.start, s) for s in self.plan.sessions]
        if self.plan.works:
            runs.append((self.plan.arrive, None))
        for _, session in sorted(runs, key=lambda run: run[0]):
            if session is None:
                self._main()
            else:
                self.desk.reset()
                self._session_start(session.start)
                end = session.render(self, session.start + self.rng.randint(20, 90) * SECOND, session.end)
                self._session_end(end + self.rng.randint(5, 60) * SECOND, "shutdown")
        return self._finish()

    def _main(self) -> None:
        plan = self.plan
        self.desk.reset()
        self._session_start(plan.arrive)
        t = activities.morning(self, plan.arrive)
        agenda: list[Break | Block] = sorted([*plan.breaks, *plan.blocks], key=lambda item: item.start)
        while True:
            if agenda and t >= agenda[0].start:
                t = self._run(agenda.pop(0), t)
                continue
            if t >= plan.finish:
                break
            t = self._activity(t, min(plan.finish, agenda[0].start if agenda else plan.finish))
        for item in agenda:
            if isinstance(item, Block):
                t = self._run(item, t)
        self.close_case(t)
        t = activities.evening(self, t)
        self._session_end(t, plan.stop_reason)

    def _activity(self, t: int, limit: int) -> int:
        if t < self.plan.begin:
            return activities.filler(self, t, min(limit, self.plan.begin))
        if t > self.plan.finish - WIND_DOWN:
            return activities.filler(self, t, limit)
        if not self.plan.cases or (self.plan.work_share < 1.0 and self.rng.random() >= self.plan.work_share):
            return activities.jiggle(self, t, limit)
        if self.member.role == "lead":
            return activities.lead_task(self, t)
        share = (0.16 if self.member.team.kind == "cs" else 0.1) * self.member.traits.switching
        if self.rng.random() < share:
            return activities.filler(self, t, limit)
        return casework(self, t)

    def _run(self, item: Break | Block, t: int) -> int:
        self.close_case(t)
        if isinstance(item, Block):
            return item.render(self, t, t + item.length)
        if item.label == "meeting":
            return activities.meeting(self, t, item.length)
        if item.label == "training":
            return activities.training(self, t, item.length)
        if item.label == "network":
            return activities.network_drop(self, t, item.length)
        if item.label == "reboot":
            self._session_end(t + self.rng.randint(2, 9) * SECOND, "restart")
            self.desk.reset()
            back = t + item.length
            self._session_start(back)
            return activities.morning(self, back)
        if item.label != "short" and self.rng.random() < 0.08:
            return activities.desk_meal(self, t, item.length)
        if self.rng.random() < 0.35:
            t = self.desk.focus(t, self.messenger, self.im_chat())
        return self.idle(t + self.rng.randint(1, 20) * SECOND, item.length)

    # ------------------------------------------------------------ what the agent really recorded

    def _finish(self) -> list[Record]:
        sessions = [(run.start, run.end, run.reason) for run in self._sessions]
        extra: list[Record] = []
        kill = self.plan.kill
        if kill is not None:
            sessions = _split(sessions, kill.at, kill.restart)
            extra = self._refocus(kill.restart) if any(s == kill.restart for s, _, _ in sessions) else []
        kept = extra
        for start, end, _ in sessions:
            recorded = [r for r in self.out if start < r.t <= end]
            kept.extend(_forget_before(recorded) if kill is not None and start == kill.restart else recorded)
        for start, end, reason in sessions:
            kept.append(Record(start, "agent.start", self._start_fields(), prio=0))
            if reason is not None:
                kept.append(Record(end, "agent.stop", {"reason": reason}, prio=2))
            kept.extend(self._heartbeats(start, end))
        kept.sort(key=ORDER)
        lost = sum(self._lose_tail(kept, start, end) for start, end, reason in sessions if reason is None)
        if kill is not None:
            kill.detail["lost_events"] = lost
        return kept

    def _start_fields(self) -> dict[str, str]:
        member = self.member
        return {"version": AGENT_VERSION, "os": member.os, "hostname": member.hostname, "user": member.user}

    def _refocus(self, restart: int) -> list[Record]:
        """A restarted agent reports the window already in front."""
        focus = [r for r in self.out if r.kind == "app.focus" and r.t <= restart]
        if not focus:
            return []
        last = focus[-1]
        return [Record(restart + self.rng.randint(900, 3000), "app.focus", dict(last.fields), last.raw)]

    def _lose_tail(self, records: list[Record], start: int, end: int) -> int:
        """The events the agent held in memory when it died: numbered, never spooled."""
        window = self.rng.randint(5, 45) * SECOND
        inside = [r for r in records if start < r.t <= end and r.kind != "agent.start"]
        tail = [r for r in inside if r.t > end - window] or inside[-1:]
        for record in tail:
            record.lost = True
        return len(tail)

    def _heartbeats(self, start: int, end: int) -> list[Record]:
        """One heartbeat a minute; the spool fills up during an upload outage and drains after it."""
        rand = self.rng.random
        rss_base = self.member.traits.rss_base_mb
        down = [self.plan.outage] if self.plan.outage else []
        down += self.plan.drops
        out = []
        depth = 0
        for t in range(start + MINUTE, end, MINUTE):
            if any(at <= t < at + length for at, length in down):
                depth += int(rand() * 7)
            else:
                depth = _DEPTHS[int(rand() * len(_DEPTHS))]
            busy = rand()
            cpu = 0.1 + busy * busy * 2.4 + (rand() * 25.0 if busy > 0.985 else 0.0)
            fields = {
                "spool_depth": depth,
                "dropped_total": 0,
                "cpu_pct": round(cpu, 1),
                "rss_mb": round(rss_base + (t - start) / HOUR * 0.6 + rand() * 1.5, 1),
            }
            out.append(Record(t + int(rand() * 40), "agent.heartbeat", fields))
        return out


_DEPTHS = (0, 0, 0, 1, 1, 2, 3, 4, 6, 9)


def _forget_before(records: list[Record]) -> list[Record]:
    """A restarted agent knows nothing of the case or the idle spell that began before it started."""
    opened: set[str] = set()
    idle = False
    kept = []
    for record in sorted(records, key=ORDER):
        if record.kind == "case.open":
            opened.add(record.fields["case_id"])
        elif record.kind == "case.close" and record.fields["case_id"] not in opened:
            continue
        elif record.kind == "input.idle":
            idle = True
        elif record.kind == "input.active" and not idle:
            continue
        kept.append(record)
    return kept


_Span = tuple[int, int, str | None]  # a run of the agent: start, end, agent.stop reason (None: no stop)


def _split(sessions: list[_Span], at: int, restart: int) -> list[_Span]:
    out: list[_Span] = []
    for start, end, reason in sessions:
        if start < at < end:
            out.append((start, at, None))
            if restart < end - 5 * MINUTE:
                out.append((restart, end, reason))
        else:
            out.append((start, end, reason))
    return out
