"""Leave-one-scenario-out evaluation: every misconduct scenario is scored by a configuration that was
chosen without it, so the figures cannot flatter the detectors with what they were tuned on.

The steps, each a function here:

1. :func:`fleet_from_folder` reads a simulator output folder (events, fleet.json with its rota,
   ground_truth.json) into the inputs of its last ``scored`` days, the insider agent-days
   (``scenarios``) and the decoys (``unusual_but_normal``). Features are computed once per rollup.
2. :func:`rank_fleets` scores every scored day of every fleet under every point of a :class:`Grid`
   with :func:`detectors.scoring.compute`, the report's own ranking (``DayScores.order``); fitted
   members are reused across grid points (:func:`detectors.ensemble.member_cache`).
3. :func:`held_out` picks, for each scenario, the grid point that does best on the *other* scenarios
   (:func:`objective`: recall at 5, at 10 and at k, less the share of decoy agent-days in the top 10;
   ties go to the lower mean rank, then to the earlier point) and reads that scenario's ranks under it.

``k`` is the number of insiders on the insider's own day and fleet. A rank is the agent's place in its
day's full ranking, other insiders included, as a reviewer would read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import product
from pathlib import Path

import numpy as np

from detectors.context import AgentContext
from detectors.ensemble import member_cache
from detectors.evaluate import rollups_from_files
from detectors.need_to_know import judged_features
from detectors.rollup import DayRollup
from detectors.rules import RuleSet
from detectors.scoring import AgentDayInput, ScoringConfig, compute

SELF_MEMBERS = ("self_iforest", "self_ecod", "self_zscore")
DECOY_PENALTY = 1.0


@dataclass(frozen=True)
class Point:
    """One configuration of the grid and a short label for the table."""

    label: str
    config: ScoringConfig


@dataclass(frozen=True)
class Grid:
    """The scoring knobs searched: the rules member's weight, the weight of the own-history members,
    how member ranks combine, and one factor applied to every rule threshold."""

    rules_weight: tuple[float, ...] = (1.0, 3.0)
    self_weight: tuple[float, ...] = (0.5, 1.0, 2.0)
    combine: tuple[str, ...] = ("fisher",)
    rule_scale: tuple[float, ...] = (0.6, 1.0)

    def points(self, base: ScoringConfig | None = None) -> list[Point]:
        base = base or ScoringConfig()
        rules = RuleSet().to_dict()
        out = []
        for rw, sw, comb, scale in product(self.rules_weight, self.self_weight, self.combine, self.rule_scale):
            weights = {m: sw for m in SELF_MEMBERS if m in base.members}
            if "rules" in base.members:
                weights["rules"] = rw
            overrides = tuple((name, (("threshold", r["threshold"] * scale),)) for name, r in sorted(rules.items()))
            config = ScoringConfig.from_dict({**_as_dict(base), "combine": comb, "weights": weights,
                                              "rules": {n: dict(c) for n, c in overrides}})
            out.append(Point(f"rules×{rw:g} self×{sw:g} {comb} thr×{scale:g}", config))
        return out


def _as_dict(config: ScoringConfig) -> dict[str, object]:
    return {"members": list(config.members), "min_peers": config.min_peers, "min_history": config.min_history,
            "history_days": config.history_days, "min_fit": config.min_fit,
            "contamination": config.contamination, "random_state": config.random_state}


@dataclass
class Fleet:
    """One simulated fleet, ready to score: inputs of the scored days, insiders and decoys."""

    name: str
    days: dict[date, tuple[list[AgentDayInput], dict[str, list[dict[str, float]]]]]
    insiders: list[tuple[str, date, str]]  # agent_id, day, scenario
    decoys: list[tuple[str, date, str]]  # agent_id, day, kind

    def k(self, day: date) -> int:
        return sum(1 for _, d, _ in self.insiders if d == day)


def fleet_from_folder(folder: Path, name: str, scored: int = 5, history_days: int = 30,
                      rollups: dict[str, dict[date, DayRollup]] | None = None) -> Fleet:
    """The last ``scored`` days of a simulator output folder (see the module notes); ``rollups``: the
    folder's rollups if already folded."""
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    rollups = rollups if rollups is not None else rollups_from_files(folder)
    feats = judged_features(rollups)  # need-to-know across each day's agents, as the report does
    all_days = sorted({d for per_day in rollups.values() for d in per_day})
    days = {}
    for day in all_days[-scored:]:
        today: list[AgentDayInput] = []
        history: dict[str, list[dict[str, float]]] = {}
        for agent_id in sorted(rollups):
            if day not in rollups[agent_id]:
                continue
            ctx: AgentContext = rollups[agent_id][day].ctx
            today.append(AgentDayInput(ctx, feats[agent_id][day]))
            past = sorted(d for d in feats[agent_id] if day - timedelta(days=history_days) <= d < day)
            history[agent_id] = [feats[agent_id][d] for d in past]
        days[day] = (today, history)
    insiders = [(s["agent_id"], date.fromisoformat(s["date"]), s["scenario"]) for s in truth["scenarios"]
                if date.fromisoformat(s["date"]) in days]
    positives = {(a, d) for a, d, _ in insiders}
    decoys = [(u["agent_id"], date.fromisoformat(u["date"]), u["kind"]) for u in truth["unusual_but_normal"]
              if date.fromisoformat(u["date"]) in days and (u["agent_id"], date.fromisoformat(u["date"]))
              not in positives]
    return Fleet(name, days, insiders, decoys)


@dataclass(frozen=True)
class Seen:
    """Where one insider or decoy agent-day ranked under one grid point."""

    fleet: str
    agent_id: str
    day: date
    what: str  # scenario or decoy kind
    rank: int
    k: int


@dataclass
class Ranked:
    """Every insider's and decoy's rank under every grid point."""

    points: list[Point]
    insiders: list[list[Seen]]  # per point
    decoys: list[list[Seen]]  # per point

    def scenarios(self) -> list[str]:
        return sorted({s.what for s in self.insiders[0]}) if self.insiders else []


def rank_fleets(fleets: Sequence[Fleet], points: Sequence[Point]) -> Ranked:
    """Score every scored day of every fleet under every grid point (see the module notes)."""
    insiders: list[list[Seen]] = [[] for _ in points]
    decoys: list[list[Seen]] = [[] for _ in points]
    for fleet in fleets:
        for day, (today, history) in sorted(fleet.days.items()):
            if not today:
                continue
            ids = [r.ctx.agent_id for r in today]
            with member_cache():
                for p, point in enumerate(points):
                    ds = compute(today, history, point.config, point.config.rule_set())
                    rank = {ids[int(i)]: n for n, i in enumerate(ds.order, start=1)}
                    k = fleet.k(day)
                    insiders[p] += [Seen(fleet.name, a, d, w, rank[a], k) for a, d, w in fleet.insiders
                                    if d == day and a in rank]
                    decoys[p] += [Seen(fleet.name, a, d, w, rank[a], k) for a, d, w in fleet.decoys
                                  if d == day and a in rank]
    return Ranked(list(points), insiders, decoys)


@dataclass
class Figures:
    """Recall and ranks of a set of insider agent-days, and the decoys under the same configuration."""

    ranks: list[int]
    ks: list[int]
    decoy_ranks: list[int] = field(default_factory=list)
    decoy_kinds: list[str] = field(default_factory=list)

    def recall(self, k: int | None = None) -> float:
        """Share ranked in the top ``k``; ``None``: in the top k of their own day (k = its insiders)."""
        if not self.ranks:
            return 0.0
        limits = self.ks if k is None else [k] * len(self.ranks)
        return sum(r <= lim for r, lim in zip(self.ranks, limits, strict=True)) / len(self.ranks)

    def best_decoy(self) -> tuple[int, str] | None:
        """The highest-placed decoy (lowest rank) and its kind."""
        if not self.decoy_ranks:
            return None
        i = int(np.argmin(self.decoy_ranks))
        return self.decoy_ranks[i], self.decoy_kinds[i]

    def decoys_in(self, k: int) -> float:
        return sum(r <= k for r in self.decoy_ranks) / len(self.decoy_ranks) if self.decoy_ranks else 0.0


def figures(ranked: Ranked, p: int, scenarios: Sequence[str] | None = None) -> Figures:
    chosen = [s for s in ranked.insiders[p] if scenarios is None or s.what in scenarios]
    return Figures([s.rank for s in chosen], [s.k for s in chosen], [s.rank for s in ranked.decoys[p]],
                   [s.what for s in ranked.decoys[p]])


def objective(f: Figures) -> tuple[float, float]:
    """What selection maximises (higher is better): recall at 5, 10 and k less the share of decoys in
    the top 10; then the lower mean rank."""
    main = f.recall(5) + f.recall(10) + f.recall() - DECOY_PENALTY * f.decoys_in(10)
    return round(main, 9), -float(np.mean(f.ranks)) if f.ranks else 0.0


def select(ranked: Ranked, scenarios: Sequence[str]) -> int:
    """The grid point that does best on ``scenarios`` (ties: the earlier point)."""
    best, best_key = 0, None
    for p in range(len(ranked.points)):
        key = objective(figures(ranked, p, scenarios))
        if best_key is None or key > best_key:
            best, best_key = p, key
    return best


@dataclass
class Row:
    scenario: str
    point: int
    figures: Figures
    seen: list[Seen]


@dataclass
class HeldOut:
    """Per scenario, its ranks under the point chosen without it; and, for contrast, the point tuned on
    every scenario."""

    ranked: Ranked
    rows: list[Row]
    tuned: int

    def pooled(self) -> Figures:
        ranks = [r for row in self.rows for r in row.figures.ranks]
        ks = [k for row in self.rows for k in row.figures.ks]
        decoys = [(d, kind) for row in self.rows
                  for d, kind in zip(row.figures.decoy_ranks, row.figures.decoy_kinds, strict=True)]
        return Figures(ranks, ks, [d for d, _ in decoys], [k for _, k in decoys])

    def tuned_figures(self) -> Figures:
        return figures(self.ranked, self.tuned)

    def table(self) -> str:
        head = f"{'held-out scenario':<28} {'r@5':>5} {'r@10':>5} {'r@k':>5} {'best decoy':>22}  ranks  (configuration)"
        lines = [head, "-" * len(head)]
        for row in self.rows:
            f = row.figures
            ranks = " ".join(str(s.rank) for s in sorted(row.seen, key=lambda s: (s.fleet, s.day)))
            lines.append(f"{row.scenario:<28} {f.recall(5):>5.2f} {f.recall(10):>5.2f} {f.recall():>5.2f} "
                         f"{_decoy(f):>22}  {ranks}  ({self.ranked.points[row.point].label})")
        lines.append("-" * len(head))
        pooled, tuned = self.pooled(), self.tuned_figures()
        lines.append(f"{'all, held out':<28} {pooled.recall(5):>5.2f} {pooled.recall(10):>5.2f} "
                     f"{pooled.recall():>5.2f} {_decoy(pooled):>22}  mean rank {np.mean(pooled.ranks):.1f}")
        lines.append(f"{'all, tuned on all (not fair)':<28} {tuned.recall(5):>5.2f} {tuned.recall(10):>5.2f} "
                     f"{tuned.recall():>5.2f} {_decoy(tuned):>22}  ({self.ranked.points[self.tuned].label})")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        pooled = self.pooled()
        return {"held_out": {"recall@5": pooled.recall(5), "recall@10": pooled.recall(10),
                             "recall@k": pooled.recall(), "best_decoy_rank": _best(pooled)},
                "scenarios": {row.scenario: {"ranks": row.figures.ranks, "recall@5": row.figures.recall(5),
                                             "recall@10": row.figures.recall(10), "recall@k": row.figures.recall(),
                                             "best_decoy_rank": _best(row.figures),
                                             "configuration": self.ranked.points[row.point].label}
                              for row in self.rows}}


def _best(f: Figures) -> int | None:
    best = f.best_decoy()
    return best[0] if best else None


def _decoy(f: Figures) -> str:
    best = f.best_decoy()
    return f"{best[0]} ({best[1]})" if best else "-"


def held_out(ranked: Ranked) -> HeldOut:
    """Leave each scenario out in turn (see the module notes)."""
    names = ranked.scenarios()
    rows = []
    for name in names:
        p = select(ranked, [n for n in names if n != name])
        seen = [s for s in ranked.insiders[p] if s.what == name]
        rows.append(Row(name, p, figures(ranked, p, [name]), seen))
    return HeldOut(ranked, rows, select(ranked, names))


def decoy_kinds(ranked: Ranked, p: int) -> Mapping[str, int]:
    """The best rank of each decoy kind under grid point ``p``."""
    out: dict[str, int] = {}
    for s in ranked.decoys[p]:
        out[s.what] = min(out.get(s.what, s.rank), s.rank)
    return dict(sorted(out.items(), key=lambda kv: kv[1]))
