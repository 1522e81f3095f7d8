"""Daily report benchmark: one day of N agents, each with D days of rollup history, scored and reported.

    .venv/bin/python bench/report.py [--agents 10000] [--history 30] [--team-size 25] [--scope team|fleet]

Runs pinned to one CPU core with one BLAS thread. Prints the seconds of the need-to-know judgement
across agents (each agent-day's customer sets as the rollups keep them: about 50 customers with a case
a day, a lead reviewing 20 to 60 of their teammates' customers, a few pages of customers nobody had),
of scoring and of rendering (HTML, JSON, CSV), and the process's peak RSS. The budget is 60 s and 2 GB
for 10,000 agents, everything counted from the customer sets on.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from detectors.context import AgentContext  # noqa: E402
from detectors.features import FEATURE_NAMES  # noqa: E402
from detectors.need_to_know import KEY_HEX, CustomerSets, apply, judge  # noqa: E402
from detectors.render import render_csv, render_html  # noqa: E402
from detectors.scoring import AgentDayInput, score_day  # noqa: E402
from detectors.synthetic import ANOMALIES, bulk_features, plant  # noqa: E402


def _keys(rng: np.random.Generator, n: int) -> list[str]:
    return [format(int(k), f"0{KEY_HEX}x") for k in rng.integers(0, 2**63, n, dtype=np.int64)]


def customer_sets(today: list[AgentDayInput], rng: np.random.Generator) -> list[tuple[str, str, CustomerSets]]:
    """Each agent-day's customer sets: cases of their own, a lead's reviews of teammates' customers, and
    a few caseless pages (more for the planted browse_without_case days)."""
    by_team: dict[str, list[AgentDayInput]] = {}
    for r in today:
        by_team.setdefault(r.ctx.team, []).append(r)
    rows = []
    for team_rows in by_team.values():
        cased = {r.ctx.agent_id: frozenset(_keys(rng, int(r.features["customers_viewed"]) or 1)) for r in team_rows}
        handled = sorted(k for keys in cased.values() for k in keys)
        for r in team_rows:
            uncased = {k: 1 for k in _keys(rng, int(r.features["pages_without_case"]))}
            if r.ctx.role == "lead":
                picks = rng.choice(len(handled), min(len(handled), int(rng.integers(20, 61))), replace=False)
                uncased.update({handled[int(i)]: int(rng.integers(1, 3)) for i in picks})
            rows.append((r.ctx.agent_id, r.ctx.team, CustomerSets(cased[r.ctx.agent_id], uncased)))
    return rows


def build(agents: int, history: int, team_size: int) -> tuple[list[AgentDayInput], dict[str, list[dict[str, float]]]]:
    cube = bulk_features(1, agents, history + 1)
    rng = np.random.default_rng(2)
    today: list[AgentDayInput] = []
    hist: dict[str, list[dict[str, float]]] = {}
    review = FEATURE_NAMES.index("reviewed_customers")
    strip = "-" * 54 + "a" * 30 + "i" * 3 + "a" * 24 + "-" * 33
    for i in range(agents):
        team = f"team-{i // team_size:04d}"
        role = "lead" if i % team_size == 0 else "agent"
        ctx = AgentContext(f"a{i:06d}", team, role)
        if role == "lead":  # judged history: a lead's reviews of teammates' cases on every past day
            cube[i, :, review] = rng.integers(20, 61, history + 1)
        rows = [dict(zip(FEATURE_NAMES, day.tolist(), strict=True)) for day in cube[i]]
        features = rows.pop()
        if i % 97 == 5:
            features = plant(features, ANOMALIES[(i // 97) % len(ANOMALIES)], rng)
        evidence = [{"ts": "2024-05-06T10:00:00+08:00", "kind": "id_copy", "seq": 100 + k,
                     "what": "copied 1 ID number", "what_zh": "复制了 1 个身份证号"} for k in range(3)]
        today.append(AgentDayInput(ctx, features, evidence, strip))
        hist[ctx.agent_id] = rows
    return today, hist


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=30)
    parser.add_argument("--team-size", type=int, default=25)
    parser.add_argument("--scope", choices=("team", "fleet"), default="team")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    started = time.perf_counter()
    today, hist = build(args.agents, args.history, args.team_size)
    sets = customer_sets(today, np.random.default_rng(3))
    built_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"built {len(today):,} agent-days + {sum(len(v) for v in hist.values()):,} history days "
          f"in {time.perf_counter() - started:.1f} s (not counted); RSS with the input {built_mb:,.0f} MB")
    t0 = time.perf_counter()
    verdicts = judge(sets, args.scope)
    today = apply(today, verdicts)
    tj = time.perf_counter()
    report = score_day(date(2024, 5, 6), today, hist)
    t1 = time.perf_counter()
    html = render_html(report)
    text = report.to_json()
    table = render_csv(report)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    keys = sum(len(s.cased) + len(s.uncased) for _, _, s in sets)
    reviewed = sum(v.reviewed_customers for v in verdicts.values())
    print(f"need-to-know across agents ({args.scope}): {len(sets):,} customer sets, {keys:,} keys, "
          f"{reviewed:,} reviews found: {tj - t0:.1f} s")
    leads = [f.rank for f in report.findings if f.role == "lead"]
    print(f"leads among the findings: {len(leads)} (best rank {min(leads) if leads else '-'})")
    print(f"scored {report.agents_scored:,} agents: {t1 - tj:.1f} s; rendered HTML {len(html) / 1e3:,.0f} kB, "
          f"JSON {len(text) / 1e3:,.0f} kB, CSV {len(table) / 1e3:,.0f} kB: {t2 - t1:.1f} s")
    print(f"total {t2 - t0:.1f} s on one core; peak RSS {peak_mb:,.0f} MB; {len(report.findings)} findings")
    ok = (t2 - t0) <= 60 and peak_mb < 2048
    print("within budget (60 s, 2 GB)" if ok else "OVER BUDGET (60 s, 2 GB)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
