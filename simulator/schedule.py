"""Who works which day: weekends, the Saturday rota, sick days, and the unusual-but-normal days that
the ground truth records: ``new_hire``, ``team_lead``, ``lead_review`` (a lead reviewing teammates'
customers), ``overtime`` (scheduled or not), ``rota`` (another shift for one day, entered by the lead),
``half_day``, ``return_from_leave``, ``training`` (hours of training or meetings) and ``flaky_network``
(a home connection that keeps dropping). Their sizes are drawn at random per seed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from random import Random

from simulator.clock import HOUR, MINUTE
from simulator.roster import DAY_SHIFT, EARLY_SHIFT, LATE_SHIFT, Member, Shift

RECENT_DAYS = 5  # specials and default scenarios land in the last few days of the window


@dataclass(frozen=True, slots=True)
class DayInfo:
    works: bool
    kind: str | None = None  # unusual-but-normal label, as written to ground_truth.json
    speed: float = 1.0  # handling-time multiplier for the day (a new hire is slow at first)
    overtime_min: int = 0
    half: bool = False
    shift: Shift | None = None  # the shift worked this day when it is not the usual one
    entered: bool = False  # the day's shift was entered in the rota (an admin knows it)
    training_min: int = 0  # one long training or meeting spell
    drops: int = 0  # times the home network drops
    reviews: int = 0  # teammates' customers a lead reviews without a case of their own


OFF = DayInfo(works=False)
_NEW_HIRE_SPEED = (1.7, 1.5, 1.35)


def window(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


class Schedule:
    """The working calendar of a fleet over the simulated window."""

    def __init__(self, seed: int, members: list[Member], start: date, end: date) -> None:
        self.seed = seed
        self.days = window(start, end)
        self.start = start
        self._special: dict[tuple[int, date], DayInfo] = {}
        self._leave: dict[int, tuple[date, date]] = {}
        self._plan_specials(Random(f"{seed}|specials"), members)

    def _recent_weekdays(self) -> list[date]:
        recent = [d for d in self.days[-RECENT_DAYS:] if d.weekday() < 5]
        return recent or self.days[-1:]

    def _plan_specials(self, rng: Random, members: list[Member]) -> None:
        pool = [m for m in members if m.role == "agent" and m.hired < self.start]
        rng.shuffle(pool)
        recent = self._recent_weekdays()
        twice = len(members) >= 30
        for kind in ("return_from_leave", "overtime", "half_day", "rota", "training", "flaky_network"):
            for _ in range(1 + (twice and rng.random() < 0.5)):
                if pool:
                    self._plan_one(rng, kind, pool.pop(), recent)
        for lead in (m for m in members if m.role == "lead"):
            if rng.random() < 0.6:
                self._special[(lead.index, rng.choice(recent))] = DayInfo(
                    works=True, kind="lead_review", reviews=rng.randint(15, 80))

    def _plan_one(self, rng: Random, kind: str, member: Member, recent: list[date]) -> None:
        day = rng.choice(recent)
        info = DayInfo(works=True, kind=kind)
        if kind == "return_from_leave":
            day = rng.choice(recent[-3:])  # late in the window, so there is a baseline before the leave
            self._leave[member.index] = (day - timedelta(days=rng.randint(5, 10)), day)
        elif kind == "overtime":
            saturdays = [d for d in self.days[-7:] if d.weekday() == 5]
            day = rng.choice(saturdays) if saturdays and rng.random() < 0.4 else day
            minutes = 0 if day.weekday() == 5 else rng.randint(60, 200)
            info = replace(info, overtime_min=minutes, entered=rng.random() < 0.5)
            if info.entered and minutes:
                late = member.shift.start_ms >= 12 * HOUR
                start = _hhmm(member.shift.start_ms - (minutes * MINUTE if late else 0))
                end = _hhmm(member.shift.end_ms + (0 if late else minutes * MINUTE))
                info = replace(info, shift=Shift(start, end))
        elif kind == "half_day":
            info = replace(info, half=True)
        elif kind == "rota":
            other = [s for s in (DAY_SHIFT, LATE_SHIFT, EARLY_SHIFT) if s != member.shift]
            info = replace(info, shift=rng.choice(other), entered=True)
        elif kind == "training":
            info = replace(info, training_min=rng.randint(90, 300))
        else:
            info = replace(info, drops=rng.randint(3, 10))
        self._special[(member.index, day)] = info

    def _usual(self, member: Member, day: date) -> bool:
        if day < member.hired or day.weekday() == 6:
            return False
        leave = self._leave.get(member.index)
        if leave and leave[0] <= day < leave[1]:
            return False
        if day.weekday() == 5 and not (
            member.traits.saturday_rota and (day.isocalendar().week + member.index) % 2 == 0
        ):
            return False
        return Random(f"{self.seed}|sick|{member.agent_id}|{day}").random() >= 0.015

    def info(self, member: Member, day: date) -> DayInfo:
        special = self._special.get((member.index, day))
        if special is not None:
            return special
        if not self._usual(member, day):
            return OFF
        if member.hired >= self.start:
            nth = sum(1 for d in self.days if member.hired <= d < day and self._usual(member, d))
            if nth < len(_NEW_HIRE_SPEED):
                return DayInfo(works=True, kind="new_hire", speed=_NEW_HIRE_SPEED[nth])
            return DayInfo(works=True, speed=1.25)
        if member.role == "lead":
            return DayInfo(works=True, kind="team_lead")
        return DayInfo(works=True)

    def unusual(self, members: list[Member]) -> list[dict[str, str]]:
        """Ground-truth entries for every unusual-but-normal agent-day."""
        out = []
        for day in self.days:
            for member in members:
                info = self.info(member, day)
                if info.works and info.kind:
                    out.append({"agent_id": member.agent_id, "date": day.isoformat(), "kind": info.kind})
        return out

    def rota(self, member: Member) -> list[dict[str, str]]:
        """The days whose shift was entered for ``member`` (as in fleet.json's ``rota``)."""
        out = []
        for day in self.days:
            info = self.info(member, day)
            if info.works and info.entered and info.shift is not None:
                out.append({"date": day.isoformat(), "start": info.shift.start, "end": info.shift.end})
        return out


def _hhmm(ms: int) -> str:
    minutes = max(0, min(ms // MINUTE, 23 * 60 + 59))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
