"""Evaluation benchmark: the fleet simulator with injected scenarios, scored day by day.

    .venv/bin/python bench/evaluate.py [--seeds 1 2 3] [--agents 64] [--days 15] [--scored 5] [--json]

For each seed, simulates ``--agents`` agents over ``--days`` days (the default mix injects one of each
scenario into a 64-agent fleet, over the last days), folds the events into day rollups, scores each of
the last ``--scored`` days against the agents' history, and pools the figures over all seeds: recall of
the scenario agent-days in the top 5 / top 10 of their day, mean rank, false alarms ranked ahead of
them, and where the unusual-but-normal days (decoys) land, for the ensemble, each member alone and the
rules alone. The seeds default to ones never used while the detectors were tuned.
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

from detectors.evaluate import ENSEMBLE, Evaluation, MethodResult, evaluate  # noqa: E402


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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--agents", type=int, default=64)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--scored", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the pooled figures as JSON too")
    args = parser.parse_args()
    from agent.simulate import simulate

    runs = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="sg-eval-") as tmp:
            started = time.perf_counter()
            simulate(Path(tmp), agents=args.agents, days=args.days, seed=seed, end=date(2025, 3, 14))
            simulated = time.perf_counter()
            run = evaluate(Path(tmp), days=args.scored)
            print(f"seed {seed}: simulated in {simulated - started:.0f} s, evaluated in "
                  f"{time.perf_counter() - simulated:.0f} s; scenarios: "
                  + ", ".join(f"{s['scenario']}@{run.methods[ENSEMBLE].ranks[k]}"
                              for k, s in enumerate(sorted(run.scenarios, key=lambda s: (s["date"], s["agent_id"])))))
            runs.append(run)
    result = pooled(runs)
    print()
    print(f"{len(result.scenarios)} scenario agent-days, {len(result.decoys)} decoy agent-days "
          f"(new hires, team leads, overtime, half days, returns from leave) over {len(args.seeds)} seeds")
    print(result.table())
    losers = [n for n in result.methods if n != ENSEMBLE and not result.beats(ENSEMBLE, n)]
    print("the ensemble beats every member and the rules alone" if not losers
          else f"the ensemble does NOT beat: {', '.join(losers)}")
    if args.json:
        print(json.dumps([m.as_dict() for m in result.methods.values()], indent=1))
    return 0 if not losers else 1


if __name__ == "__main__":
    raise SystemExit(main())
