"""Evaluation on the fleet simulator's output: does the ranking put the injected scenarios on top?

:func:`rollups_from_files` feeds each agent's simulated events, day by day, through
:class:`~detectors.rollup.DayRollup` exactly as the collector would (a gap in a file's ``seq`` counts
as an integrity gap of the day of the last event before it: that is when the events went missing).
:func:`evaluate` then scores each of the last ``days`` days against up to 30 days of history and
measures, for the ensemble, each member alone and the rules alone: recall of the scenario agent-days
in the top 5 and top 10 of their day's ranking, the mean rank of scenario agent-days, and where the
unusual-but-normal agent-days (decoys) land. Ties in a single member's scores are broken by a hash
of the agent id, never by its name.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from detectors.context import AgentContext
from detectors.need_to_know import judged_features
from detectors.rollup import DayRollup
from detectors.scoring import AgentDayInput, DayScores, ScoringConfig, compute

ENSEMBLE = "ensemble"


Rota = dict[date, tuple[str, str]]  # days whose shift was entered, as (start, end)


def load_fleet(folder: Path) -> dict[str, AgentContext]:
    """Agent contexts from the simulator's fleet.json."""
    out = {}
    for item in json.loads((folder / "fleet.json").read_text(encoding="utf-8")):
        shift = item.get("shift", {})
        out[item["agent_id"]] = AgentContext(item["agent_id"], item["team"], item.get("role", "agent"),
                                             shift.get("start", "09:00"), shift.get("end", "18:00"))
    return out


def load_rota(folder: Path) -> dict[str, Rota]:
    """The per-day shifts entered for each agent (fleet.json ``rota``), as an admin would enter them."""
    out: dict[str, Rota] = {}
    for item in json.loads((folder / "fleet.json").read_text(encoding="utf-8")):
        entries = {date.fromisoformat(e["date"]): (e["start"], e["end"]) for e in item.get("rota", ())}
        if entries:
            out[item["agent_id"]] = entries
    return out


def rollups_from_events(ctx: AgentContext, events: Iterable[dict[str, Any]],
                        rota: Rota | None = None) -> dict[date, DayRollup]:
    """One agent's events (in file order) folded into one rollup per local calendar day; a day in
    ``rota`` is judged against that day's entered shift."""
    zone = ZoneInfo(ctx.tz)
    days: dict[date, DayRollup] = {}
    last_seq = 0
    last: DayRollup | None = None
    for event in events:
        day = datetime.fromisoformat(event["ts"]).astimezone(zone).date()
        rollup = days.get(day)
        if rollup is None:
            shift = (rota or {}).get(day)
            day_ctx = replace(ctx, shift_start=shift[0], shift_end=shift[1]) if shift else ctx
            rollup = days[day] = DayRollup.new(day_ctx, day)
        seq = int(event["seq"])
        if last is not None and seq > last_seq + 1:
            last.add_integrity("seq_gap", seq - last_seq - 1)
        if seq > last_seq:
            last_seq, last = seq, rollup
        rollup.add(event)
    return days


def rollups_from_files(folder: Path) -> dict[str, dict[date, DayRollup]]:
    """Every agent's day rollups from a simulator output folder (events/<agent_id>.jsonl)."""
    fleet = load_fleet(folder)
    rota = load_rota(folder)
    out = {}
    for agent_id, ctx in fleet.items():
        path = folder / "events" / f"{agent_id}.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            out[agent_id] = rollups_from_events(ctx, (json.loads(line) for line in fh if line.strip()),
                                                rota.get(agent_id))
    return out


@dataclass
class MethodResult:
    name: str
    ranks: list[int] = field(default_factory=list)         # rank of each scenario agent-day in its day
    ahead: list[int] = field(default_factory=list)         # non-scenario agents ranked above each of them
    decoy_ranks: list[int] = field(default_factory=list)   # rank of each decoy agent-day in its day

    def recall(self, k: int) -> float:
        return sum(r <= k for r in self.ranks) / len(self.ranks) if self.ranks else 0.0

    def mean_rank(self) -> float:
        return float(np.mean(self.ranks)) if self.ranks else 0.0

    def false_alarms_ahead(self) -> float:
        """Mean number of non-scenario agents a reviewer reads before each scenario agent."""
        return float(np.mean(self.ahead)) if self.ahead else 0.0

    def decoys_in(self, k: int) -> int:
        return sum(r <= k for r in self.decoy_ranks)

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.name, "recall@5": round(self.recall(5), 3),
                "recall@10": round(self.recall(10), 3), "mean_rank": round(self.mean_rank(), 2),
                "false_alarms_ahead": round(self.false_alarms_ahead(), 3), "ranks": self.ranks,
                "decoys_in_top5": self.decoys_in(5), "decoys_in_top10": self.decoys_in(10),
                "decoy_median_rank": float(np.median(self.decoy_ranks)) if self.decoy_ranks else None}


@dataclass
class Evaluation:
    methods: dict[str, MethodResult]
    scenarios: list[dict[str, Any]]
    decoys: list[dict[str, Any]]
    days: list[date]

    def beats(self, a: str, b: str) -> bool:
        """True when method a is no worse than b at top 5 and at top 10 and better on the first of
        these that differ: recall at 5, recall at 10, false alarms ahead of the scenario agents,
        decoys in the top 10 (in that order of importance)."""
        x, y = self.methods[a], self.methods[b]
        if x.recall(5) < y.recall(5) or x.recall(10) < y.recall(10):
            return False
        kx = (-x.recall(5), -x.recall(10), round(x.false_alarms_ahead(), 9), x.decoys_in(10))
        ky = (-y.recall(5), -y.recall(10), round(y.false_alarms_ahead(), 9), y.decoys_in(10))
        return kx < ky

    def table(self) -> str:
        head = f"{'method':<14} {'recall@5':>8} {'recall@10':>9} {'mean rank':>9} {'alarms ahead':>12} " \
               f"{'decoys top5':>11} {'decoys top10':>12} {'decoy median':>12}"
        lines = [head, "-" * len(head)]
        order = [ENSEMBLE] + sorted(n for n in self.methods if n != ENSEMBLE)
        for name in order:
            m = self.methods[name]
            med = f"{np.median(m.decoy_ranks):.1f}" if m.decoy_ranks else "-"
            lines.append(f"{name:<14} {m.recall(5):>8.2f} {m.recall(10):>9.2f} {m.mean_rank():>9.1f} "
                         f"{m.false_alarms_ahead():>12.2f} {m.decoys_in(5):>11} {m.decoys_in(10):>12} {med:>12}")
        return "\n".join(lines)


def _rank_of(scores: np.ndarray, ids: Sequence[str]) -> dict[str, int]:
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    salt = np.array([zlib.crc32(a.encode()) for a in ids], dtype=np.float64)
    order = np.lexsort((salt, -s))
    return {ids[int(i)]: k for k, i in enumerate(order, start=1)}


def day_inputs(rollups: dict[str, dict[date, DayRollup]], day: date,
               history_days: int) -> tuple[list[AgentDayInput], dict[str, list[dict[str, float]]]]:
    today, history = [], {}
    window = {day - timedelta(days=k) for k in range(history_days + 1)}
    feats = judged_features(rollups, window)  # need-to-know across each day's agents, as the report does
    for agent_id, days in sorted(rollups.items()):
        if day not in days:
            continue
        r = days[day]
        today.append(AgentDayInput(r.ctx, feats[agent_id][day], r.evidence(), r.strip()))
        past = [d for d in sorted(days) if day - timedelta(days=history_days) <= d < day]
        history[agent_id] = [feats[agent_id][d] for d in past]
    return today, history


def rank_methods(ds: DayScores) -> dict[str, dict[str, int]]:
    """Each method's rank of every agent on one day (the ensemble and every member alone)."""
    ids = [r.ctx.agent_id for r in ds.rows]
    out = {ENSEMBLE: {ids[int(i)]: k for k, i in enumerate(ds.order, start=1)}}
    for member in ds.result.members:
        out[member.name] = _rank_of(member.scores, ids)
    return out


def evaluate(folder: Path, days: int = 5, config: ScoringConfig | None = None,
             rollups: dict[str, dict[date, DayRollup]] | None = None) -> Evaluation:
    """Score the last ``days`` days of a simulator output folder and measure every method."""
    config = config or ScoringConfig()
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    rollups = rollups if rollups is not None else rollups_from_files(folder)
    all_days = sorted({d for per_agent in rollups.values() for d in per_agent})
    scored = all_days[-days:]
    rules = config.rule_set()
    methods: dict[str, MethodResult] = {}
    scenarios = [s for s in truth["scenarios"] if date.fromisoformat(s["date"]) in scored]
    decoys = [d for d in truth.get("unusual_but_normal", []) if date.fromisoformat(d["date"]) in scored]
    positives = {(s["agent_id"], s["date"]) for s in scenarios}
    for day in scored:
        today, history = day_inputs(rollups, day, config.history_days)
        if not today:
            continue
        ranks = rank_methods(compute(today, history, config, rules))
        for name, by_agent in ranks.items():
            m = methods.setdefault(name, MethodResult(name))
            todays = {a for a, d in positives if d == day.isoformat() and a in by_agent}
            for agent_id in sorted(todays):
                rank = by_agent[agent_id]
                m.ranks.append(rank)
                m.ahead.append(sum(1 for a, r in by_agent.items() if r < rank and a not in todays))
            for d in decoys:
                key = (d["agent_id"], d["date"])
                if d["date"] == day.isoformat() and d["agent_id"] in by_agent and key not in positives:
                    m.decoy_ranks.append(by_agent[d["agent_id"]])
    return Evaluation(methods, scenarios, decoys, scored)
