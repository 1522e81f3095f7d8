"""Held-out evaluation: the fleet simulator's misconduct scenarios, each scored by a configuration
chosen without it (leave one scenario out).

    nice .venv/bin/python bench/evaluate.py [--seeds 1 2 3 4 5] [--agents 40] [--days 12] [--scored 5]
        [--per-fleet N] [--rules-weight 1 3] [--self-weight 0.5 1 2] [--combine fisher]
        [--rule-scale 0.6 1] [--members] [--explain] [--json] [--data DIR]

For each seed the simulator writes a fleet of ``--agents`` agents over ``--days`` days with its
legitimate unusual days (leads reviewing teammates, rota and overtime, new hires, returns from leave,
half days, flaky home networks, training) and, on the last ``--scored`` days, every misconduct scenario
once, loud and quiet, each on a different ordinary agent (``--per-fleet N``: N scenarios a fleet, in
rotation over the seeds). Every scored day is ranked under every point of the grid (the product of
the four knob lists). Then each scenario is scored by the point that does best on all the *other*
scenarios (see detectors.heldout). Printed: per scenario recall@5, recall@10, recall@k (k = insiders
that day), the best (highest-placed) decoy, and its rank in each fleet; then the pooled held-out figures
and, for contrast, the figures of the point tuned on every scenario. ``--members`` also prints the
default configuration's table of the ensemble against each member alone. ``--explain`` lists, for every
insider under the configuration tuned on all, the agent-days that are not insiders and rank above it:
role, tier, calibrated score, peer group scope (``all``: compared with everyone) and the rules fired.
``--data DIR`` starts from the scoring settings of that collector (the ``[scoring]`` table of
``DIR/collector.toml`` and ``SEATGUARD_SCORING_*``, as the collector reads them) instead of the defaults:
its members and peer and history settings are the grid's base, and ``--members`` compares with it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.evaluate import ENSEMBLE, Evaluation, MethodResult, evaluate, rollups_from_files  # noqa: E402
from detectors.features import FEATURE_NAMES  # noqa: E402
from detectors.heldout import Fleet, Grid, Point, decoy_kinds, fleet_from_folder, held_out, rank_fleets  # noqa: E402
from detectors.scoring import ScoringConfig, compute  # noqa: E402
from detectors.tiers import TIERS  # noqa: E402

END = date(2025, 3, 14)


def scoring_of(data: Path | None) -> ScoringConfig:
    """The scoring settings of the collector whose data folder is ``data`` (None: the defaults)."""
    if data is None:
        return ScoringConfig()
    from collector.config import load_settings
    from collector.errors import ConfigError

    try:
        return load_settings(data).scoring
    except ConfigError as exc:
        raise SystemExit(f"evaluate: {exc.message}") from exc


def pooled(runs: list[Evaluation]) -> Evaluation:
    methods: dict[str, MethodResult] = {}
    for run in runs:
        for name, m in run.methods.items():
            into = methods.setdefault(name, MethodResult(name))
            into.ranks += m.ranks
            into.ahead += m.ahead
            into.decoy_ranks += m.decoy_ranks
    return Evaluation(methods, [s for r in runs for s in r.scenarios], [d for r in runs for d in r.decoys],
                      [d for r in runs for d in r.days])


def scenario_names(per_fleet: int | None, fleet_no: int) -> list[str]:
    """Every registered scenario, or ``per_fleet`` of them in rotation over the fleets."""
    from simulator import SCENARIOS

    names = sorted(SCENARIOS)
    if not per_fleet or per_fleet >= len(names):
        return names
    return sorted(names[(fleet_no * per_fleet + j) % len(names)] for j in range(per_fleet))


def build_fleet(seed: int, fleet_no: int, args: argparse.Namespace, runs: list[Evaluation]) -> Fleet:
    from datetime import timedelta

    from simulator import simulate
    from simulator.fleet import evaluation_mix
    from simulator.roster import build_roster
    from simulator.schedule import Schedule

    start = END - timedelta(days=args.days - 1)
    members = build_roster(seed, args.agents, start, END)
    specs = evaluation_mix(seed, members, Schedule(seed, members, start, END),
                           scenario_names(args.per_fleet, fleet_no), recent=args.scored)
    with tempfile.TemporaryDirectory(prefix="sg-eval-") as tmp:
        began = time.perf_counter()
        simulate(Path(tmp), agents=args.agents, days=args.days, seed=seed, end=END, scenarios=specs)
        simulated = time.perf_counter()
        rollups = rollups_from_files(Path(tmp))
        fleet = fleet_from_folder(Path(tmp), f"seed {seed}", args.scored, rollups=rollups)
        if args.members:
            runs.append(evaluate(Path(tmp), days=args.scored, config=args.scoring, rollups=rollups))
    print(f"seed {seed}: {len(fleet.insiders)} insider and {len(fleet.decoys)} decoy agent-days; simulated in "
          f"{simulated - began:.0f} s, folded in {time.perf_counter() - simulated:.0f} s", flush=True)
    return fleet


def explain(fleets: list[Fleet], point: Point) -> list[str]:
    """For every insider, the agent-days that are not insiders and rank above it (see the module notes)."""
    rules = point.config.rule_set()
    lines = [f"agent-days ranked above each insider ({point.label}):"]
    for fleet in fleets:
        for day, (today, history) in sorted(fleet.days.items()):
            insiders = {a: w for a, d, w in fleet.insiders if d == day}
            if not today or not insiders:
                continue
            decoys = {a: w for a, d, w in fleet.decoys if d == day}
            ds = compute(today, history, point.config, rules)
            ahead: list[str] = []
            left = len(insiders)
            for n, idx in enumerate(ds.order, start=1):
                i = int(idx)
                agent = today[i].ctx.agent_id
                if agent in insiders:
                    lines.append(f"  {fleet.name} {day} {insiders[agent]} at {n}: "
                                 + ("; ".join(ahead) if ahead else "only insiders above"))
                    left -= 1
                    if not left:
                        break
                    continue
                limits = None if ds.rule_limits is None else ds.rule_limits[i]
                fired = [h.rule.name for h in rules.evaluate(
                    {name: float(ds.F[i, j]) for j, name in enumerate(FEATURE_NAMES)}, limits)]
                ahead.append(f"{n} {agent} ({decoys.get(agent, 'unlabelled')}, {today[i].ctx.role}, "
                             f"{TIERS[int(ds.tier[i])]}, p={ds.chance[i]:.2g}, peers {ds.peer.scope[i]}"
                             + (f", {'+'.join(fired)}" if fired else "") + ")")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105])
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--scored", type=int, default=5)
    parser.add_argument("--per-fleet", type=int, default=None, help="scenarios per fleet (default: all)")
    parser.add_argument("--rules-weight", type=float, nargs="+", default=list(Grid.rules_weight))
    parser.add_argument("--self-weight", type=float, nargs="+", default=list(Grid.self_weight))
    parser.add_argument("--combine", nargs="+", default=list(Grid.combine))
    parser.add_argument("--rule-scale", type=float, nargs="+", default=list(Grid.rule_scale))
    parser.add_argument("--members", action="store_true", help="also compare the ensemble with each member")
    parser.add_argument("--explain", action="store_true",
                        help="list the agent-days ranked above each insider (configuration tuned on all)")
    parser.add_argument("--json", action="store_true", help="print the held-out figures as JSON too")
    parser.add_argument("--data", type=Path, default=None,
                        help="start from the scoring settings of the collector with this data folder")
    args = parser.parse_args()
    args.scoring = scoring_of(args.data)
    grid = Grid(tuple(args.rules_weight), tuple(args.self_weight), tuple(args.combine), tuple(args.rule_scale))
    points = grid.points(args.scoring)
    runs: list[Evaluation] = []
    fleets = [build_fleet(seed, n, args, runs) for n, seed in enumerate(args.seeds)]
    began = time.perf_counter()
    ranked = rank_fleets(fleets, points)
    result = held_out(ranked)
    print(f"ranked {sum(len(f.days) for f in fleets)} fleet-days under {len(points)} configurations in "
          f"{time.perf_counter() - began:.0f} s\n")
    print(f"{len(ranked.insiders[0])} insider agent-days of {len(result.rows)} scenarios, "
          f"{len(ranked.decoys[0])} decoy agent-days, {len(fleets)} fleets of {args.agents} agents")
    print(result.table())
    print("\nbest rank of each decoy kind (configuration tuned on all): "
          + ", ".join(f"{kind} {rank}" for kind, rank in decoy_kinds(ranked, result.tuned).items()))
    if args.members:
        comparison = pooled(runs)
        which = f"configuration of {args.data}" if args.data else "default configuration"
        print(f"\n{which}, ensemble against each member alone:")
        print(comparison.table())
        losers = [n for n in comparison.methods if n != ENSEMBLE and not comparison.beats(ENSEMBLE, n)]
        print("the ensemble beats every member and the rules alone" if not losers
              else f"the ensemble does NOT beat: {', '.join(losers)}")
    if args.explain:
        print("\n" + "\n".join(explain(fleets, ranked.points[result.tuned])))
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
