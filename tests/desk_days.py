"""Hand-written agent-days for detector tests: validated v1 events of one 09:00-18:00 shift, folded into
real rollups (no simulator). Each agent has a :class:`Habit`; a day is drawn from it with a seeded
random source, so a fleet's history varies the way people's days do.

A human pauses: lunch and a few short breaks become ``input.idle`` / ``input.active`` pairs at
irregular times. A mouse mover (``Habit.mover``) never lets input go idle. Customer pages come with a
case (the case number in the title) or without one (``lookups``: caseless look-ups).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from contract.schema import validate_event
from detectors.context import AgentContext
from detectors.rollup import DayRollup
from detectors.scoring import AgentDayInput

FIRST = date(2024, 5, 1)
START = {"version": "1", "os": "w", "hostname": "h", "user": "u"}


@dataclass(frozen=True)
class Habit:
    cases: int = 45          # cases closed on a full day
    lookups: int = 2         # customer pages opened without a case
    mover: bool = False      # an automatic mouse mover: input never goes idle
    timer_min: int = 0       # input on a timer: an idle period every timer_min minutes (0: a human's)
    scatter: bool = True     # counts scatter from day to day around the usual level (False: exactly it)


class _Events:
    def __init__(self, agent_id: str, day: date) -> None:
        self.agent_id, self.day, self.seq = agent_id, day, 0
        self.items: list[tuple[int, dict[str, Any]]] = []

    def __call__(self, sec: int, kind: str, **fields: Any) -> None:
        self.items.append((sec, {"kind": kind, **fields}))

    def validated(self) -> list[dict[str, Any]]:
        """Every event through the schema, but heartbeats: one is, the rest are copies of it."""
        out: list[dict[str, Any]] = []
        beat: dict[str, Any] | None = None
        for sec, body in sorted(self.items, key=lambda item: item[0]):
            self.seq += 1
            h, rest = divmod(sec, 3600)
            ts = f"{self.day.isoformat()}T{h:02d}:{rest // 60:02d}:{rest % 60:02d}.000+08:00"
            if body["kind"] == "agent.heartbeat" and beat is not None:
                out.append({**beat, "seq": self.seq, "ts": ts})
                continue
            out.append(validate_event({"schema": 1, "agent_id": self.agent_id, "seq": self.seq, "ts": ts, **body}))
            if body["kind"] == "agent.heartbeat":
                beat = out[-1]
        return out


def _pauses(rng: random.Random, habit: Habit) -> list[tuple[int, int]]:
    """Idle periods as (start, end) seconds: a human's lunch and breaks, or a timer's clockwork."""
    if habit.mover:
        return []
    if habit.timer_min:
        step = habit.timer_min * 60
        return [(t, t + 360) for t in range(9 * 3600 + step, 18 * 3600 - step, step)]
    lunch = 12 * 3600 + rng.randint(0, 40) * 60
    out = [(lunch, lunch + rng.randint(35, 55) * 60)]
    for _ in range(rng.randint(4, 8)):
        a = rng.randint(9 * 3600 + 600, 17 * 3600 + 2400)
        b = a + rng.randint(6, 16) * 60
        if all(b + 300 < x or a > y + 300 for x, y in out):
            out.append((a, b))
    return sorted(out)


def _around(rng: random.Random, usual: int, scatter: bool = True) -> int:
    """A day's count for a usual level: Poisson-like scatter (a level of 9 gives 3 to 15 or so)."""
    if usual <= 0 or not scatter:
        return max(0, usual)
    return max(0, round(rng.gauss(usual, usual ** 0.5)))


def _cases(ev: _Events, rng: random.Random, n: int, busy: list[tuple[int, int]],
           free: list[int]) -> list[tuple[int, int]]:
    """``n`` cases one after the other through the free time; returns their (open, close) seconds."""
    spans: list[tuple[int, int]] = []
    t = free[0]
    gap = max(30, (len(free) * 30 - n * 420) // max(n, 1))
    while len(spans) < n and t < 17 * 3600 + 3000:
        wall = rng.randint(300, 540)
        if any(a < t + wall and t < b for a, b in busy):
            t += 60
            continue
        case = f"C-2024-{rng.randrange(10 ** 7):07d}"
        customer = rng.randrange(10 ** 6, 10 ** 7)
        ev(t, "case.open", case_id=case, app="crm.exe", title=f"Case {case}")
        ev(t + 5, "app.focus", app="crm.exe", title=f"Case {case}", pid=11)
        ev(t + 10, "page.open", url=f"https://crm.internal/customers/{customer}", title=f"Case {case}",
           app="chrome.exe")
        if rng.random() < 0.3:
            ev(t + 60, "clipboard.copy", app="crm.exe", title=f"Case {case}", trigger="hotkey", chars=12,
               classes={"phone": 1}, action="allowed")
        ev(t + wall, "case.close", case_id=case, active_s=float(wall - 30), idle_s=0.0, wall_s=float(wall))
        spans.append((t, t + wall))
        t += wall + gap + rng.randint(0, 60)
    return spans


def day_events(agent_id: str, day: date, habit: Habit, rng: random.Random) -> list[dict[str, Any]]:
    ev = _Events(agent_id, day)
    ev(8 * 3600 + 55 * 60, "agent.start", **START)
    for m in range(8 * 60 + 55, 18 * 60 + 5):
        ev(m * 60 + 30, "agent.heartbeat", spool_depth=0, dropped_total=0, cpu_pct=1.0, rss_mb=40.0)
    pauses = _pauses(rng, habit)
    for a, b in pauses:
        ev(a + 300, "input.idle", threshold_s=300.0)
        ev(b, "input.active", idle_s=float(b - a))
    busy = [(a - 60, b + 60) for a, b in pauses]
    blocked = {t for a, b in busy for t in range(a - a % 30, b, 30)}
    free = [t for t in range(9 * 3600 + 300, 17 * 3600 + 3000, 30) if t not in blocked]
    looked = sorted(rng.sample(free, min(_around(rng, habit.lookups, habit.scatter), len(free))))
    for t in looked:  # a look-up with no case open: the cases below make way for it
        ev(t + 1, "page.open", url=f"https://crm.internal/customers/{rng.randrange(10 ** 6, 10 ** 7)}",
           title="Customer", app="chrome.exe")
    _cases(ev, rng, _around(rng, habit.cases, habit.scatter), busy + [(t - 30, t + 60) for t in looked], free)
    ev(18 * 3600 + 2 * 60, "agent.stop", reason="shutdown")
    return ev.validated()


def rollup(ctx: AgentContext, day: date, habit: Habit, rng: random.Random) -> DayRollup:
    r = DayRollup.new(ctx, day)
    for e in day_events(ctx.agent_id, day, habit, rng):
        r.add(e)
    return r


@dataclass
class Fleet:
    """Agents with their habits; :meth:`score` folds ``days`` of history and one day today."""

    contexts: list[AgentContext]
    habits: dict[str, Habit]
    seed: int = 1

    @classmethod
    def teams(cls, teams: int = 2, per_team: int = 10, seed: int = 1, **habit: Any) -> Fleet:
        rng = random.Random(seed)
        ctxs = [AgentContext(f"t{t}a{k:02d}", f"team-{t}") for t in range(teams) for k in range(per_team)]
        habits = {c.agent_id: Habit(cases=rng.randint(38, 52), lookups=rng.randint(0, 3), **habit) for c in ctxs}
        return cls(ctxs, habits, seed)

    def add(self, ctx: AgentContext, habit: Habit) -> None:
        self.contexts.append(ctx)
        self.habits[ctx.agent_id] = habit

    def inputs(self, days: int, today: dict[str, Habit] | None = None,
               history: dict[str, list[Habit]] | None = None,
               ) -> tuple[date, list[AgentDayInput], dict[str, list[dict[str, float]]]]:
        """Today's inputs and each agent's ``days`` of history (``history``: habits per past day, oldest
        first, for the agents whose past is not just their habit)."""
        rng = random.Random(self.seed * 7919)
        day = FIRST + timedelta(days=days)
        past: dict[str, list[dict[str, float]]] = {}
        rows = []
        for ctx in self.contexts:
            habit = self.habits[ctx.agent_id]
            own = (history or {}).get(ctx.agent_id) or [habit] * days
            past[ctx.agent_id] = [rollup(ctx, FIRST + timedelta(days=d), h, rng).features()
                                  for d, h in enumerate(own)]
            r = rollup(ctx, day, (today or {}).get(ctx.agent_id, habit), rng)
            rows.append(AgentDayInput(ctx, r.features(), r.evidence(), r.strip()))
        return day, rows, past


def with_(habit: Habit, **change: Any) -> Habit:
    return replace(habit, **change)
