"""Who works which day: weekends, the Saturday rota, sick days, and the unusual-but-normal days
(new hire, team lead, overtime, half day, return from leave) that the ground truth records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from random import Random

from agent.simulate.roster import Member

RECENT_DAYS = 5  # specials and default scenarios land in the last few days of the window


@dataclass(frozen=True, slots=True)
class DayInfo:
    works: bool
    kind: str | None = None  # unusual-but-normal label, as written to ground_truth.json
    speed: float = 1.0  # handling-time multiplier for the day (a new hire is slow at first)
    overtime_min: int = 0
    half: bool = False


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
        if pool:
            member = pool.pop()
            back = rng.choice(recent[-3:])  # late in the window, so there is a baseline before the leave
            self._leave[member.index] = (back - timedelta(days=rng.randint(7, 9)), back)
            self._special[(member.index, back)] = DayInfo(works=True, kind="return_from_leave")
        if pool:
            member = pool.pop()
            saturdays = [d for d in self.days[-7:] if d.weekday() == 5]
            day = rng.choice(saturdays) if saturdays and rng.random() < 0.4 else rng.choice(recent)
            minutes = 0 if day.weekday() == 5 else rng.randint(120, 180)
            self._special[(member.index, day)] = DayInfo(works=True, kind="overtime", overtime_min=minutes)
        if pool:
            member = pool.pop()
            day = rng.choice(recent)
            self._special[(member.index, day)] = DayInfo(works=True, kind="half_day", half=True)

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
