"""The simulated fleet: teams, people, shifts and the stable traits that make each person different."""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from random import Random
from typing import Any

from simulator.clock import clock

_GIVEN = (
    "ana",
    "wei",
    "fang",
    "jing",
    "min",
    "lei",
    "yan",
    "tao",
    "hui",
    "ping",
    "jun",
    "xin",
    "qing",
    "yu",
    "hao",
    "lin",
    "na",
    "bo",
    "kai",
    "mei",
    "rui",
    "tian",
    "xue",
    "yi",
    "zhen",
    "chen",
    "dan",
    "feng",
    "hong",
    "lu",
    "yue",
    "jie",
    "li",
    "ning",
    "shan",
    "wen",
)
_FAMILY = (
    "zhang",
    "wang",
    "li",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "lin",
    "luo",
    "gao",
    "zheng",
    "liang",
    "xie",
    "song",
    "tang",
    "han",
)
_OS = (
    "Windows 10 Pro 22H2 (10.0.19045)",
    "Windows 11 Pro 23H2 (10.0.22631)",
    "Windows 11 Pro 24H2 (10.0.26100)",
)


@dataclass(frozen=True, slots=True)
class Shift:
    start: str
    end: str

    @property
    def start_ms(self) -> int:
        return clock(self.start)

    @property
    def end_ms(self) -> int:
        return clock(self.end)


DAY_SHIFT = Shift("09:00", "18:00")
LATE_SHIFT = Shift("13:00", "22:00")
EARLY_SHIFT = Shift("07:30", "16:30")  # only ever worked as a rota day


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    kind: str  # "cs" (customer service, inbound) or "col" (collections, outbound)
    messenger: str  # process name of the company chat app
    softphone: str


@dataclass(frozen=True, slots=True)
class Traits:
    """Stable habits of one person; every number is a multiplier, a rate or a probability."""

    speed: float  # handling-time multiplier (>1 is slower)
    switching: float  # window-switching intensity
    copy_rate: float  # legitimate clipboard copies per case
    idle_prone: float  # chance of a long no-input stretch in a long call or a quiet spell
    punctuality_min: float  # usual arrival relative to shift start, minutes (negative: early)
    lunch_at: str  # usual meal break
    browser: str
    personal_wechat: bool  # runs personal WeChat on the work PC
    personal_browsing: float  # personal web pages per hour
    export_rate: float  # chance of exporting one's own case list on a day
    answer_rate: float  # collections: share of dialled customers who answer
    saturday_rota: bool
    rss_base_mb: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    agent_id: str
    team: Team
    role: str  # "agent" or "lead"
    shift: Shift
    hired: date
    traits: Traits
    user: str
    hostname: str
    os: str

    def to_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "team": self.team.name,
            "role": self.role,
            "shift": {"start": self.shift.start, "end": self.shift.end},
            "hired": self.hired.isoformat(),
            "traits": self.traits.to_json(),
        }


def _teams(rng: Random, count: int) -> list[Team]:
    teams = []
    for i in range(count):
        kind = "cs" if i % 2 == 0 else "col"
        teams.append(
            Team(
                name=f"{kind}-{i // 2 + 1}",
                kind=kind,
                messenger=rng.choice(("WXWork.exe", "WXWork.exe", "DingTalk.exe")),
                softphone=rng.choice(("microsip.exe", "Zoiper5.exe", "AgentBar.exe")),
            )
        )
    return teams


def _traits(rng: Random, team: Team, lead: bool, late: bool) -> Traits:
    meal = 17 * 60 + 20 if late else 11 * 60 + 50
    meal += rng.choice((-20, -10, 0, 0, 10, 25))
    return Traits(
        speed=round(rng.lognormvariate(0.0, 0.2), 3),
        switching=round(rng.lognormvariate(0.45 if lead else 0.0, 0.25), 3),
        copy_rate=round(rng.uniform(0.08, 0.55), 3),
        idle_prone=round(rng.uniform(0.02, 0.2), 3),
        punctuality_min=round(rng.gauss(-10.0, 6.0), 1),
        lunch_at=f"{meal // 60:02d}:{meal % 60:02d}",
        browser=rng.choice(("chrome.exe", "chrome.exe", "msedge.exe")),
        personal_wechat=rng.random() < 0.3,
        personal_browsing=round(rng.choice((0.0, 0.1, 0.3, 0.6, 1.2)) * rng.uniform(0.5, 1.5), 3),
        export_rate=round(rng.uniform(0.3, 0.8) if lead else rng.uniform(0.0, 0.25), 3),
        answer_rate=round(rng.uniform(0.35, 0.65), 3),
        saturday_rota=(not lead) and rng.random() < 0.25,
        rss_base_mb=round(rng.uniform(38.0, 62.0), 1),
    )


def _hostname(rng: Random, index: int) -> str:
    if rng.random() < 0.6:
        return f"LDR-LT-{1000 + 37 * index + rng.randrange(37):04d}"
    return "DESKTOP-" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(7))


def _new_hire_start(rng: Random, start: date, end: date) -> date:
    weekdays = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    weekdays = [d for d in weekdays if d.weekday() < 5] or [end]
    return weekdays[-min(len(weekdays), rng.choice((3, 4, 5)))]


def build_roster(seed: int, size: int, start: date, end: date) -> list[Member]:
    """``size`` people in teams of about ten, each team with a lead; one recent hire."""
    rng = Random(f"{seed}|roster")
    team_count = max(2 if size >= 4 else 1, round(size / 10))
    teams = _teams(rng, team_count)
    members: list[Member] = []
    for t, team in enumerate(teams):
        team_size = size // team_count + (1 if t < size % team_count else 0)
        for position in range(team_size):
            index = len(members)
            lead = position == 0 and team_size >= 2
            late = not lead and rng.random() < (0.4 if team.kind == "col" else 0.25)
            given = rng.choice(_GIVEN)
            members.append(
                Member(
                    index=index,
                    agent_id=f"{team.kind}-{given}-{index + 1:02d}",
                    team=team,
                    role="lead" if lead else "agent",
                    shift=LATE_SHIFT if late else DAY_SHIFT,
                    hired=end - timedelta(days=rng.randint(700, 3000) if lead else rng.randint(60, 2200)),
                    traits=_traits(rng, team, lead, late),
                    user=f"{rng.choice(_FAMILY)}.{given}",
                    hostname=_hostname(rng, index),
                    os=rng.choice(_OS),
                )
            )
    agents = [m for m in members if m.role == "agent"]
    if agents:
        hire = rng.choice(agents)
        slower = replace(hire.traits, speed=round(hire.traits.speed * 1.15, 3))
        members[hire.index] = replace(hire, hired=_new_hire_start(rng, start, end), traits=slower)
    return members
