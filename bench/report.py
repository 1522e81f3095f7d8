"""Daily report benchmark: one day of N agents, each with D days of rollup history, scored and reported.

    .venv/bin/python bench/report.py [--agents 10000] [--history 30] [--team-size 25]

Runs pinned to one CPU core with one BLAS thread. Prints the seconds of scoring and of rendering
(HTML, JSON, CSV) and the process's peak RSS. The budget is 60 s and 2 GB for 10,000 agents.
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

from detectors.render import render_csv, render_html  # noqa: E402
from detectors.rollup import FEATURE_NAMES, AgentContext  # noqa: E402
from detectors.scoring import AgentDayInput, score_day  # noqa: E402
from detectors.synthetic import ANOMALIES, bulk_features, plant  # noqa: E402


def build(agents: int, history: int, team_size: int) -> tuple[list[AgentDayInput], dict[str, list[dict[str, float]]]]:
    cube = bulk_features(1, agents, history + 1)
    rng = np.random.default_rng(2)
    today: list[AgentDayInput] = []
    hist: dict[str, list[dict[str, float]]] = {}
    strip = "-" * 54 + "a" * 30 + "i" * 3 + "a" * 24 + "-" * 33
    for i in range(agents):
        team = f"team-{i // team_size:04d}"
        role = "lead" if i % team_size == 0 else "agent"
        ctx = AgentContext(f"a{i:06d}", team, role)
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
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    started = time.perf_counter()
    today, hist = build(args.agents, args.history, args.team_size)
    built_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"built {len(today):,} agent-days + {sum(len(v) for v in hist.values()):,} history days "
          f"in {time.perf_counter() - started:.1f} s (not counted); RSS with the input {built_mb:,.0f} MB")
    t0 = time.perf_counter()
    report = score_day(date(2024, 5, 6), today, hist)
    t1 = time.perf_counter()
    html = render_html(report)
    text = report.to_json()
    table = render_csv(report)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scored {report.agents_scored:,} agents: {t1 - t0:.1f} s; rendered HTML {len(html) / 1e3:,.0f} kB, "
          f"JSON {len(text) / 1e3:,.0f} kB, CSV {len(table) / 1e3:,.0f} kB: {t2 - t1:.1f} s")
    print(f"total {t2 - t0:.1f} s on one core; peak RSS {peak_mb:,.0f} MB; {len(report.findings)} findings")
    ok = (t2 - t0) <= 60 and peak_mb < 2048
    print("within budget (60 s, 2 GB)" if ok else "OVER BUDGET (60 s, 2 GB)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
