"""The whole simulation: roster, calendar, scenario placement, rendering and writing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from random import Random
from typing import Any

from simulator import quiet  # noqa: F401  (registers the quiet scenarios)
from simulator.clock import today
from simulator.day import RenderedDay
from simulator.desktop import Record
from simulator.plan import base_plan
from simulator.roster import Member, build_roster
from simulator.scenarios import SCENARIOS, Context
from simulator.schedule import RECENT_DAYS, DayInfo, Schedule
from simulator.workday import Portfolio
from simulator.writer import (
    FLEET_FILE,
    RAW_FILE,
    TRUTH_FILE,
    WriteStats,
    prepare,
    write_events,
    write_json,
    write_raw,
)

MAX_AGENTS = 5000
MAX_DAYS = 400


@dataclass(frozen=True)
class ScenarioSpec:
    """Inject scenario ``name`` on roster entry ``agent_index`` (0-based, the order of fleet.json) on
    day ``day_offset`` of the window (0 = first day; negative counts from the end, -1 = last day)."""

    name: str
    agent_index: int
    day_offset: int

    @classmethod
    def parse(cls, text: str) -> ScenarioSpec:
        """Parse ``NAME:AGENT_INDEX:DAY_OFFSET``; raise ValueError with the reason."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"expected NAME:AGENT_INDEX:DAY_OFFSET, got {text!r}")
        name, index, offset = parts
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r} (known: {', '.join(sorted(SCENARIOS))})")
        try:
            return cls(name, int(index), int(offset))
        except ValueError as exc:
            raise ValueError(f"AGENT_INDEX and DAY_OFFSET must be integers in {text!r}") from exc

    def resolve(self, agents: int, days: list[date]) -> tuple[int, date]:
        if self.name not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.name!r}")
        if not 0 <= self.agent_index < agents:
            raise ValueError(f"{self.name}: agent index {self.agent_index} is outside 0..{agents - 1}")
        if not -len(days) <= self.day_offset < len(days):
            raise ValueError(f"{self.name}: day offset {self.day_offset} is outside the {len(days)}-day window")
        return self.agent_index, days[self.day_offset]


@dataclass(frozen=True)
class SimulationResult:
    out_dir: Path
    start: date
    end: date
    agents: int
    events: int  # events written
    lost: int  # events numbered but lost by killed agents (seq gaps)
    scenarios: list[dict[str, Any]]  # as in ground_truth.json
    unusual_but_normal: list[dict[str, str]]


def default_mix(seed: int, members: list[Member], schedule: Schedule) -> list[ScenarioSpec]:
    """About one scenario agent-day per eight agents, on ordinary agents, over the last few days."""
    rng = Random(f"{seed}|mix")
    unusual = {entry["agent_id"] for entry in schedule.unusual(members)}
    pool = [m for m in members if m.role == "agent" and m.agent_id not in unusual]
    pool = pool or [m for m in members if m.role == "agent"] or list(members)
    rng.shuffle(pool)
    names = sorted(n for n, cls in SCENARIOS.items() if cls.in_default_mix)
    rng.shuffle(names)
    recent = schedule.days[-RECENT_DAYS:]
    specs = []
    for i, member in enumerate(pool[: max(1, round(len(members) / 8))]):
        workdays = [d for d in recent if schedule.info(member, d).works] or recent
        day = rng.choice(workdays)
        specs.append(ScenarioSpec(names[i % len(names)], member.index, schedule.days.index(day)))
    return specs


CasePages = dict[date, list[tuple[str, str]]]  # per day, (url, title) of customer pages opened on a case


def evaluation_mix(seed: int, members: list[Member], schedule: Schedule, names: list[str],
                   recent: int = RECENT_DAYS) -> list[ScenarioSpec]:
    """Each scenario in ``names`` once, each on a different ordinary agent (no lead, nobody with an
    unusual-but-normal day), on a random workday among the last ``recent`` days. Raises ValueError when
    the fleet has too few ordinary agents."""
    rng = Random(f"{seed}|evaluation-mix")
    unusual = {entry["agent_id"] for entry in schedule.unusual(members)}
    pool = [m for m in members if m.role == "agent" and m.agent_id not in unusual]
    if len(pool) < len(names):
        raise ValueError(f"{len(names)} scenarios need as many ordinary agents; the fleet has {len(pool)}")
    rng.shuffle(pool)
    window = schedule.days[-recent:]
    specs = []
    for name, member in zip(names, pool, strict=False):
        workdays = [d for d in window if schedule.info(member, d).works] or window
        specs.append(ScenarioSpec(name, member.index, schedule.days.index(rng.choice(workdays))))
    return specs


def _render_member(
    seed: int, member: Member, schedule: Schedule, injected: dict[date, list[str]], teammates: CasePages
) -> tuple[list[Record], list[dict[str, Any]], CasePages]:
    portfolio = Portfolio(seed, member, schedule.days[-1].year) if member.team.kind == "col" else None
    records: list[Record] = []
    truth: list[dict[str, Any]] = []
    pages: CasePages = {}
    for day in schedule.days:
        info = schedule.info(member, day)
        names = sorted(injected.get(day, []), key=lambda n: (SCENARIOS[n].order, n))
        if not info.works and any(SCENARIOS[n].needs_shift for n in names):
            info = DayInfo(works=True)
        rng = Random(f"{seed}|day|{member.agent_id}|{day}")
        plan = base_plan(member, info, day, rng)
        for n, name in enumerate(names):
            detail: dict[str, Any] = {}
            ctx = Context(member, plan, Random(f"{seed}|scenario|{name}|{n}|{member.agent_id}|{day}"), detail)
            SCENARIOS[name]().apply(ctx)
            truth.append({"agent_id": member.agent_id, "date": day.isoformat(), "scenario": name, "detail": detail})
        if plan.works or plan.sessions:
            rendered = RenderedDay(member, plan, rng, portfolio, teammates.get(day, ())).render()
            pages[day] = [(r.fields["url"], r.fields["title"]) for r in rendered
                          if r.kind == "page.open" and "/customers/" in r.fields["url"] and "?case=" in r.fields["url"]]
            records.extend(rendered)
    return records, truth, pages


def _team_order(members: list[Member]) -> list[Member]:
    """Each team's agents before its lead, so a lead can review what the team handled that day."""
    return sorted(members, key=lambda m: (m.team.name, m.role == "lead", m.index))


def simulate(
    out_dir: Path,
    agents: int = 40,
    days: int = 15,
    seed: int = 7,
    end: date | None = None,
    scenarios: list[ScenarioSpec] | None = None,
) -> SimulationResult:
    """Write a simulated fleet's events, roster and ground truth into ``out_dir``.

    ``scenarios=None`` injects the default mix; ``[]`` injects none. Raises ValueError for arguments
    out of range. The same arguments (with ``end`` given) always produce the same bytes.
    """
    if not 1 <= agents <= MAX_AGENTS:
        raise ValueError(f"agents must be between 1 and {MAX_AGENTS}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    end = end or today()
    start = end - timedelta(days=days - 1)
    members = build_roster(seed, agents, start, end)
    schedule = Schedule(seed, members, start, end)
    specs = default_mix(seed, members, schedule) if scenarios is None else scenarios
    injected: dict[int, dict[date, list[str]]] = {}
    for spec in specs:
        index, day = spec.resolve(agents, schedule.days)
        injected.setdefault(index, {}).setdefault(day, []).append(spec.name)
    events_dir = prepare(Path(out_dir))
    stats = WriteStats()
    truth: list[dict[str, Any]] = []
    team_pages: dict[str, CasePages] = {}
    for member in _team_order(members):
        seen = team_pages.setdefault(member.team.name, {})
        records, member_truth, pages = _render_member(seed, member, schedule, injected.get(member.index, {}), seen)
        write_events(events_dir / f"{member.agent_id}.jsonl", member.agent_id, records, stats)
        truth.extend(member_truth)
        for day, items in pages.items():
            seen.setdefault(day, []).extend(items)
    truth.sort(key=lambda entry: (entry["date"], entry["agent_id"], entry["scenario"]))
    unusual = schedule.unusual(members)
    out = Path(out_dir)
    write_json(out / FLEET_FILE, [{**m.to_json(), "rota": schedule.rota(m)} for m in members])
    write_json(
        out / TRUTH_FILE,
        {
            "seed": seed,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "scenarios": truth,
            "unusual_but_normal": unusual,
        },
    )
    write_raw(out / RAW_FILE, stats.raw)
    return SimulationResult(out, start, end, agents, stats.events, stats.lost, truth, unusual)
