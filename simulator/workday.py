"""A day's plan (breaks, blocks, sessions, a kill) and the state of one simulated agent-day, with the
helpers activities, casework and scenarios call on it.

:class:`WorkDay` holds what a day knows (the person, the plan, the desktop that records events, the open
case); :class:`simulator.day.RenderedDay` adds the rendering that walks the plan and calls the activities.
The split keeps the activities' and scenarios' type hints free of an import circle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from random import Random
from typing import Any

from simulator.apps import BROWSERS, MESSENGER_HOME, MESSENGERS, SOFTPHONES, system_name
from simulator.clock import SECOND, clock
from simulator.desktop import Desktop, Record
from simulator.identifiers import Customer, case_id
from simulator.roster import Member

IDLE_THRESHOLD = 300 * SECOND

Render = Callable[["WorkDay", int, int], int]  # (day, start, planned end) -> when it really ended


@dataclass(slots=True)
class Break:
    """Time away from the cases: ``lunch``/``dinner``/``short`` (no input), ``meeting``, ``reboot``,
    ``training`` (a course or a long meeting) and ``network`` (the home connection is down)."""

    start: int
    length: int
    label: str


@dataclass(slots=True)
class Block:
    """A stretch of the shift rendered by a scenario (or a rare normal task) instead of casework."""

    start: int
    length: int
    render: Render


@dataclass(slots=True)
class Session:
    """An extra run of the PC outside the main one (e.g. at night), with its own start and stop."""

    start: int
    end: int
    render: Render


@dataclass(slots=True)
class Kill:
    """The agent process is killed at ``at``: in-memory events are lost and nothing is recorded until
    ``restart``; the day then ends with the PC switched off hard (no ``agent.stop``)."""

    at: int
    restart: int
    detail: dict[str, Any]


@dataclass
class DayPlan:
    day: date
    base: int  # local midnight, ms
    works: bool  # the main session (a normal shift) happens
    arrive: int = 0  # PC on, agent.start
    begin: int = 0  # casework starts
    finish: int = 0  # casework ends
    speed: float = 1.0
    breaks: list[Break] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    cases: bool = True  # False: no casework at all (the jiggler day)
    jiggler: bool = False  # input never goes idle
    work_share: float = 1.0  # below 1: the chance that a free moment goes to a case (the rest is jiggled)
    kill: Kill | None = None
    outage: tuple[int, int] | None = None  # upload outage (start, length): the spool fills up
    drops: list[tuple[int, int]] = field(default_factory=list)  # home network down (start, length)
    stop_reason: str | None = "shutdown"

    def at(self, hhmm: str) -> int:
        return self.base + clock(hhmm)



class Portfolio:
    """A collections agent's assigned accounts; the same borrowers come back day after day."""

    def __init__(self, seed: int, member: Member, year: int) -> None:
        rng = Random(f"{seed}|portfolio|{member.agent_id}")
        self.accounts = [(case_id(rng, year), Customer.make(rng)) for _ in range(rng.randint(220, 360))]


@dataclass(slots=True)
class _Run:
    """One run of the agent process: start, end, and the agent.stop reason (None: it never stopped)."""

    start: int
    end: int = 0
    reason: str | None = None


@dataclass(slots=True)
class _OpenCase:
    case: str
    opened: int
    idle: int = 0


class WorkDay:
    """Renders a :class:`DayPlan`; activities and scenarios call its helpers."""

    def __init__(self, member: Member, plan: DayPlan, rng: Random, portfolio: Portfolio | None,
                 teammates: Sequence[tuple[str, str]] = ()) -> None:
        self.member = member
        self.teammates = list(teammates)  # (url, title) of customer pages teammates opened on a case today
        self.plan = plan
        self.rng = rng
        self.portfolio = portfolio
        self.out: list[Record] = []
        self.desk = Desktop(self.out, rng)
        self.browser = BROWSERS[member.traits.browser]
        self.messenger = MESSENGERS[member.team.messenger]
        self.softphone = SOFTPHONES[member.team.softphone]
        self.system = system_name(member.team.kind)
        self.im_home = MESSENGER_HOME[member.team.messenger]
        self.docs = f"C:\\Users\\{member.user}\\Documents"
        self.bucket = ("M1", "M2", "M3")[member.index % 3]
        self.slowness = member.traits.speed * plan.speed
        self._sessions: list[_Run] = []
        self._case: _OpenCase | None = None

    # ------------------------------------------------------------ helpers for activities

    def handling(self, median_s: float, sigma: float) -> int:
        """A lognormal handling time in ms for this person on this day."""
        seconds = self.rng.lognormvariate(math.log(median_s), sigma) * self.slowness
        return int(min(max(seconds, 40.0), 50 * 60.0) * SECOND)

    def next_account(self) -> tuple[str, Customer]:
        if self.portfolio is None:
            return case_id(self.rng, self.plan.day.year), Customer.make(self.rng)
        return self.rng.choice(self.portfolio.accounts)

    def im_chat(self) -> str:
        team = self.member.team
        group = f"{'客服' if team.kind == 'cs' else '催收'}{team.name.split('-')[-1]}组"
        return f"{self.im_home} - " + self.rng.choice((group, group, "质检通知群", "运营支持", "IT服务台"))

    def open_case(self, t: int, case: str, title: str) -> None:
        if self._case is not None:
            self.close_case(t)
        self.desk.emit(t, "case.open", case_id=case, app=self.browser.name, title=title)
        self._case = _OpenCase(case, t)

    def close_case(self, t: int) -> None:
        open_case, self._case = self._case, None
        if open_case is None:
            return
        wall = max(t - open_case.opened, SECOND)
        t = open_case.opened + wall
        idle = min(open_case.idle, wall)
        away = 1.0 - self.rng.uniform(0.02, 0.18)
        active_ds = max(0, math.floor((wall - idle) * away / 100) - 1)
        self.desk.emit(
            t,
            "case.close",
            case_id=open_case.case,
            active_s=active_ds / 10,
            idle_s=math.floor(idle / 100) / 10,
            wall_s=wall / 1000,
        )

    def idle(self, t: int, length: int) -> int:
        """No input from ``t`` for ``length`` ms; the agent reports it once the threshold passes."""
        if length >= IDLE_THRESHOLD + SECOND and not self.plan.jiggler:
            self.desk.emit(t + IDLE_THRESHOLD + self.rng.randrange(900), "input.idle", threshold_s=300.0)
            self.desk.emit(t + length, "input.active", idle_s=round(length / 1000, 1))
            if self._case is not None:
                self._case.idle += length
        return t + length

    # ------------------------------------------------------------ sessions

    def _session_start(self, t: int) -> None:
        self._sessions.append(_Run(t))

    def _session_end(self, t: int, reason: str | None) -> None:
        self._sessions[-1].end = t
        self._sessions[-1].reason = reason
