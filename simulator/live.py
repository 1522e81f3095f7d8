"""A live floor: a few simulated people working *now*, for ``make demo``'s live wall and alerts.

:func:`plan_floor` casts the people (``live-...`` agent ids on team :data:`LIVE_TEAM`) with a shift
that began :data:`LEAD_IN_MIN` minutes ago, so the wall clock is inside it, and gives the insiders
their misconduct: the first at ``first_act_s`` after the start, then one every ``act_every_s`` taken in
turns by the insiders, each cycling through :data:`ROTATION`, so a visitor who arrives late still sees
alerts fire. Each person becomes a :class:`LiveSpec`, saved in that agent's home as ``live.json``.

:func:`today_script` renders that person's working day with the simulator (the same plans, casework
and scenarios as ``seatguard-simulate``) on the real calendar and keeps only what lies after
``now``: nothing is back-dated. A case or idle spell already under way when the agent starts is
forgotten, as a freshly started agent would, and the window in front is reported once.
``agent.*`` events are left out: the real runner (:mod:`simulator.live_agent`) sends its own
start, heartbeats and stop.

Times are local milliseconds on the simulator's clock (Asia/Shanghai, :mod:`simulator.clock`);
:func:`local_ms` and :func:`to_datetime` convert to and from the wall clock.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from random import Random
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from simulator.apps import RECORDERS, REMOTE_TOOLS
from simulator.clock import DAY, MINUTE, SECOND, TZ_NAME, date_of, midnight
from simulator.day import ORDER, RenderedDay
from simulator.desktop import Record
from simulator.plan import base_plan
from simulator.roster import Member, Shift, build_roster
from simulator.scenarios import (
    BrowseWithoutCase,
    BulkIdCopy,
    Context,
    RemoteAccess,
    Scenario,
    ScreenRecorder,
    UsbExport,
)
from simulator.schedule import DayInfo
from simulator.workday import DayPlan, Portfolio, Render, WorkDay

LIVE_TEAM = "live-floor"
SPEC_FILE = "live.json"
LEAD_IN_MIN = 20  # the shift began this long before the live floor starts
SHIFT_MIN = 9 * 60
QUIET_START_MIN = 15  # no break or meeting in the first minutes of watching
MEAL_STAGGER_MIN = 75
_ZONE = ZoneInfo(TZ_NAME)
_EPOCH_DAY = midnight(date(1970, 1, 1))


class _ShortBulkIdCopy(BulkIdCopy):
    copies: ClassVar[tuple[int, int]] = (12, 18)  # a few minutes, still past the 10-ID rule


class _BriefRemoteAccess(RemoteAccess):
    uses: ClassVar[tuple[int, int]] = (1, 2)
    use_s: ClassVar[tuple[int, int]] = (60, 180)


class _SmallUsbExport(UsbExport):
    files: ClassVar[tuple[int, int]] = (2, 3)


class _OneSpellBrowsing(BrowseWithoutCase):
    spells: ClassVar[tuple[int, int]] = (1, 1)
    pages: ClassVar[tuple[int, int]] = (11, 13)


_TOOLS = frozenset(app.name for app in (*REMOTE_TOOLS, *RECORDERS))
ACTS: dict[str, type[Scenario]] = {
    "remote_access": _BriefRemoteAccess,
    "usb_export": _SmallUsbExport,
    "screen_recorder": ScreenRecorder,
    "bulk_id_copy": _ShortBulkIdCopy,
    "browse_without_case": _OneSpellBrowsing,
}
# quickest alerts first: a tool started alerts at once, an ID pasted into a chat within a minute or so,
# a USB export after its files are written (minutes), caseless browsing after ten customer pages
ROTATION = ("remote_access", "screen_recorder", "bulk_id_copy", "usb_export", "browse_without_case")


def local_ms(epoch_s: float | None = None) -> int:
    """The simulator's local milliseconds at ``epoch_s`` (default: now)."""
    moment = datetime.fromtimestamp(time.time() if epoch_s is None else epoch_s, _ZONE)
    offset = moment.utcoffset() or timedelta(0)
    return _EPOCH_DAY + int(moment.timestamp() * 1000) + int(offset.total_seconds() * 1000)


def to_datetime(moment: int) -> datetime:
    """The aware wall-clock moment of simulator local milliseconds (``ts`` keeps the +08:00 offset)."""
    naive = datetime.fromordinal(moment // DAY) + timedelta(milliseconds=moment % DAY)
    return naive.replace(tzinfo=_ZONE)


@dataclass(frozen=True)
class LiveSpec:
    """One live person: who, the roster entry the simulator renders, the shift and the misconduct."""

    agent_id: str
    team: str
    role: str
    seed: int
    roster_size: int
    index: int  # roster entry (see :func:`simulator.roster.build_roster`)
    live_from: int  # local ms when the floor started
    shift_start: int  # local ms
    shift_min: int
    acts: tuple[tuple[int, str], ...] = ()  # (local ms, name in ACTS)
    turn: int = 0  # the insiders' order: each takes the meal break later than the one before

    @property
    def insider(self) -> bool:
        return bool(self.acts)

    def shift_in(self, zone: tzinfo) -> str:
        """The shift as ``HH:MM-HH:MM`` in the collector's time zone (an enrollment token's ``--shift``)."""
        begin = to_datetime(self.shift_start).astimezone(zone)
        end = begin + timedelta(minutes=self.shift_min)
        return f"{begin:%H:%M}-{end.astimezone(zone):%H:%M}"

    def save(self, home: Path) -> Path:
        path = home / SPEC_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, home: Path) -> LiveSpec:
        data: dict[str, Any] = json.loads((home / SPEC_FILE).read_text(encoding="utf-8"))
        data["acts"] = tuple((int(at), str(name)) for at, name in data.get("acts", ()))
        return cls(**data)


def plan_floor(seed: int = 7, agents: int = 5, insiders: int = 2, first_act_s: float = 45.0,
               act_every_s: float = 180.0, now: int | None = None) -> list[LiveSpec]:
    """The live floor starting at ``now`` (local ms, default the wall clock). Raises ValueError for
    sizes out of range."""
    if not 1 <= agents <= 20:
        raise ValueError("a live floor has 1 to 20 agents")
    if not 0 <= insiders <= agents:
        raise ValueError("insiders must be between 0 and the number of agents")
    if first_act_s < 0 or act_every_s <= 0:
        raise ValueError("first_act_s must be >= 0 and act_every_s > 0")
    now = local_ms() if now is None else now
    start = (now - LEAD_IN_MIN * MINUTE) // (5 * MINUTE) * (5 * MINUTE)
    members = build_roster(seed, agents, date_of(now), date_of(now))
    ordinary = [m for m in members if m.role == "agent"] + [m for m in members if m.role != "agent"]
    chosen = ordinary[:insiders]
    acts: dict[int, list[tuple[int, str]]] = {m.index: [] for m in chosen}
    last = start + (SHIFT_MIN - 30) * MINUTE
    slot, at = 0, now + int(first_act_s * SECOND)
    while chosen and at < last:
        member = chosen[slot % len(chosen)]
        turn = len(acts[member.index])
        acts[member.index].append((at, ROTATION[(turn + slot % len(chosen)) % len(ROTATION)]))
        slot += 1
        at += int(act_every_s * SECOND)
    return [LiveSpec(agent_id=f"live-{m.agent_id}", team=LIVE_TEAM, role=m.role, seed=seed, roster_size=agents,
                     index=m.index, live_from=now, shift_start=start, shift_min=SHIFT_MIN,
                     acts=tuple(acts.get(m.index, ())), turn=next((k for k, c in enumerate(chosen) if c is m), 0))
            for m in members]


def _member(spec: LiveSpec) -> Member:
    day = date_of(spec.live_from)
    return build_roster(spec.seed, spec.roster_size, day, day)[spec.index]


def _hhmm(ms_in_day: int) -> str:
    minutes = ms_in_day // MINUTE  # may pass 24:00: the shift runs over midnight
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _plan(spec: LiveSpec, member: Member, rng: Random) -> tuple[DayPlan, list[int]]:
    """Today's plan with the acts in place; the list receives the moment the first act really begins."""
    day = date_of(spec.shift_start)
    begin = spec.shift_start - midnight(day)
    shift = Shift(_hhmm(begin), _hhmm(begin + spec.shift_min * MINUTE))
    plan = base_plan(member, DayInfo(works=True, shift=shift), day, rng)
    plan.arrive = spec.shift_start - 5 * MINUTE + rng.randrange(MINUTE)
    plan.begin = max(spec.shift_start, plan.arrive + 4 * MINUTE)
    plan.outage = None
    quiet = (spec.live_from - 2 * MINUTE, spec.live_from + QUIET_START_MIN * MINUTE)
    plan.breaks = [b for b in plan.breaks if b.start + b.length <= quiet[0] or b.start >= quiet[1]]
    for meal in (b for b in plan.breaks if b.label in ("lunch", "dinner")):
        meal.start += spec.turn * MEAL_STAGGER_MIN * MINUTE  # so that someone is always up to something
    began: list[int] = []
    for n, (at, name) in enumerate(spec.acts):
        before = len(plan.blocks)
        ACTS[name]().apply(Context(member, plan, Random(f"{spec.seed}|live-act|{spec.agent_id}|{n}"), {}))
        added = plan.blocks[before:]
        if not added:
            continue
        move = at - min(block.start for block in added)
        for block in added:
            block.start += move
        plan.blocks[before:] = [b for b in added if b.start < plan.finish - 10 * MINUTE]
        if plan.blocks[before:]:
            first = min(plan.blocks[before:], key=lambda b: b.start)
            first.render = _act(first.render, began if n == 0 else None)
    return plan, began


def _act(render: Render, began: list[int] | None) -> Render:
    """An act's first block: the tools of earlier acts were closed since (so starting one again is a
    new ``process.start``, and its alert a new repeat); ``began`` receives the moment it begins."""

    def run(day: WorkDay, t: int, end: int) -> int:
        for tool in _TOOLS:
            day.desk.pids.pop(tool, None)
        if began is not None:
            began.append(t)
        return render(day, t, end)

    return run


def today_script(spec: LiveSpec, now: int | None = None) -> list[Record]:
    """What this person's agent records from ``now`` (local ms) to the end of the shift, in order."""
    now = local_ms() if now is None else now
    member = _member(spec)
    day = date_of(spec.shift_start)
    rng = Random(f"{spec.seed}|live|{spec.agent_id}|{day}")
    plan, began = _plan(spec, member, rng)
    portfolio = Portfolio(spec.seed, member, day.year) if member.team.kind == "col" else None
    records = [r for r in RenderedDay(member, plan, rng, portfolio).render()
               if not r.lost and not r.kind.startswith("agent.")]
    if began:  # the first act starts on the minute promised, whatever call was running before it
        shift_by = spec.acts[0][0] - began[0]
        for record in records:
            record.t += shift_by
    return _resume(sorted(records, key=ORDER), now)


def _resume(records: list[Record], now: int) -> list[Record]:
    """What an agent started at ``now`` sees: the window in front, then only what begins after it."""
    front = next((r for r in reversed(records) if r.t <= now and r.kind == "app.focus"), None)
    out = [Record(now + 1500, "app.focus", dict(front.fields), front.raw)] if front is not None else []
    opened: set[str] = set()
    idle = False
    for record in records:
        if record.t <= now + 1500:
            continue
        if record.kind == "case.open":
            opened.add(str(record.fields["case_id"]))
        elif record.kind == "case.close" and record.fields["case_id"] not in opened:
            continue
        elif record.kind == "input.idle":
            idle = True
        elif record.kind == "input.active":
            if not idle:
                continue
            idle = False
        out.append(record)
    return out
