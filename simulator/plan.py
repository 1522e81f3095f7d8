"""The plan of one agent-day: when the PC runs, when the person works, breaks, and the stretches that
scenarios take over. Plans are made first and rendered into events afterwards, so a scenario can
reshape a day (add a night session, kill the agent, replace the work) before anything is emitted."""

from __future__ import annotations

import math
from datetime import date
from functools import partial
from random import Random

from simulator.activities import export_own_cases, review_teammates
from simulator.clock import HOUR, MINUTE, SECOND, midnight
from simulator.roster import Member
from simulator.schedule import DayInfo
from simulator.workday import Block, Break, DayPlan


def _minutes(rng: Random, low: float, high: float) -> int:
    return int(rng.uniform(low, high) * MINUTE)


def base_plan(member: Member, info: DayInfo, day: date, rng: Random) -> DayPlan:
    """A normal day for ``member`` as the schedule says (or an empty one on a day off)."""
    plan = DayPlan(day=day, base=midnight(day), works=info.works, speed=info.speed)
    if not info.works:
        return plan
    traits = member.traits
    shift = info.shift or member.shift
    late_shift = shift.start_ms >= 12 * HOUR
    start = plan.base + shift.start_ms
    end = plan.base + shift.end_ms
    if info.half:
        if late_shift:
            start = plan.at("17:30")
        else:
            end = plan.at("12:00") + _minutes(rng, 0, 40)
    if info.overtime_min and not info.entered:  # an entered overtime is already in the day's shift
        if late_shift:
            start -= info.overtime_min * MINUTE
        else:
            end += info.overtime_min * MINUTE
    arrival = rng.gauss(traits.punctuality_min, 4.0)
    if rng.random() < 0.04:
        arrival = rng.uniform(8, 50)
    plan.arrive = start + int(max(-45.0, arrival) * MINUTE) + rng.randrange(SECOND * 60)
    plan.begin = max(start, plan.arrive + 4 * MINUTE)
    plan.finish = end + _minutes(rng, -6, 14)
    if rng.random() < 0.03:
        plan.finish -= _minutes(rng, 20, 90)
    _add_breaks(plan, member, info, rng, start, end)
    if rng.random() < traits.export_rate:
        plan.blocks.append(Block(rng.randint(plan.begin, plan.finish), 3 * MINUTE, export_own_cases))
    plan.stop_reason = rng.choices(("shutdown", "logoff", "suspend"), (75, 15, 10))[0]
    if rng.random() < 0.06:
        plan.outage = (rng.randint(plan.begin, plan.finish), _minutes(rng, 4, 40))
    _add_unusual(plan, info, rng)
    return plan


def _add_unusual(plan: DayPlan, info: DayInfo, rng: Random) -> None:
    """Training, network drops and a lead's reviews of teammates' customers."""
    if info.training_min:
        length = min(info.training_min * MINUTE, max(HOUR, plan.finish - plan.begin - 2 * HOUR))
        at = rng.randint(plan.begin + 20 * MINUTE, max(plan.begin + 20 * MINUTE, plan.finish - length - HOUR))
        plan.breaks.append(Break(at, length, "training"))
    for _ in range(info.drops):
        drop = (rng.randint(plan.begin + 10 * MINUTE, plan.finish - 10 * MINUTE), _minutes(rng, 1, 14))
        plan.drops.append(drop)
        plan.breaks.append(Break(drop[0], drop[1], "network"))
    if info.reviews:
        spells = rng.randint(1, 3)
        for n in range(spells):
            count = info.reviews // spells + (1 if n < info.reviews % spells else 0)
            plan.blocks.append(Block(rng.randint(plan.begin + HOUR, plan.finish - HOUR), count * 90 * SECOND,
                                     partial(review_teammates, count=count)))


def _add_breaks(plan: DayPlan, member: Member, info: DayInfo, rng: Random, start: int, end: int) -> None:
    traits = member.traits
    meal = plan.at(traits.lunch_at) if info.shift is None else start + int((end - start) * 0.45)
    meal += _minutes(rng, -12, 12)
    if start + HOUR < meal < end - HOUR:
        label = "dinner" if meal >= plan.at("16:00") else "lunch"
        plan.breaks.append(Break(meal, _minutes(rng, 38, 68), label))
    if info.overtime_min and member.shift.start_ms < 12 * HOUR:
        usual_end = plan.base + member.shift.end_ms
        plan.breaks.append(Break(usual_end + _minutes(rng, 0, 15), _minutes(rng, 25, 45), "dinner"))
    hours = (end - start) / HOUR
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3)) if hours > 5 else rng.choice((0, 1))):
        length = int(rng.lognormvariate(math.log(7 * MINUTE), 0.45))
        plan.breaks.append(Break(rng.randint(start + 50 * MINUTE, end - 40 * MINUTE), length, "short"))
    meeting_chance = 0.7 if member.role == "lead" else 0.25
    if rng.random() < meeting_chance:
        plan.breaks.append(Break(plan.begin + _minutes(rng, 0, 25), _minutes(rng, 10, 25), "meeting"))
    if rng.random() < 0.03:
        plan.breaks.append(Break(rng.randint(start + HOUR, end - HOUR), _minutes(rng, 2, 6), "reboot"))
