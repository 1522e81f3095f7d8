"""Rollup cost on an ordinary day and under floods (issue 14 item 3), optionally against an older release.

    .venv/bin/python bench/rollup.py [--compare GIT_REV]

Feeds validated events to ``DayRollup`` in one process, best of three, and prints events/s, the stored
state's size and the counts the flood should not hide. ``--compare`` loads ``detectors/rollup.py`` as it
was at that revision (the releases before ``detectors/bounds.py`` kept the first N and evicted slowly).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contract.schema import validate_event  # noqa: E402

DAY = date(2024, 5, 6)


class Day:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, sec: int, kind: str, **fields: Any) -> None:
        ts = f"2024-05-06T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.000+08:00"
        self.events.append(validate_event({"schema": 1, "agent_id": "a1", "seq": len(self.events) + 1, "ts": ts,
                                           "kind": kind, **fields}))

    def heartbeats(self, start_h: int, end_h: int) -> None:
        for m in range(start_h * 60, end_h * 60):
            self(m * 60 + 30, "agent.heartbeat", spool_depth=0, dropped_total=0, cpu_pct=1.0, rss_mb=40.0)


def ordinary() -> Day:
    d = Day()
    d.heartbeats(9, 18)
    for k in range(40):
        t = 9 * 3600 + k * 720
        d(t, "case.open", case_id=f"C-2024-{k:07d}", app="crm", title="case")
        d(t + 10, "page.open", url=f"https://crm.lender.example/customers/{k}", title="c", app="chrome.exe")
        d(t + 20, "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=11, classes={"phone": 1},
          action="allowed")
        d(t + 40, "app.focus", app="WXWork.exe", title="t", pid=2)
        d(t + 600, "case.close", case_id=f"C-2024-{k:07d}", active_s=500, idle_s=60, wall_s=590)
    return d


def carried_copies() -> Day:
    d = Day()
    d.heartbeats(9, 12)
    for k in range(3000):
        t = 9 * 3600 + 3 * k
        d(t, "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=11, classes={"phone": 1},
          action="allowed")
        d(t + 1, "app.focus", app="game.exe", title="g", pid=4)
        d(t + 2, "app.focus", app="crm.exe", title="CRM", pid=1)
    return d


def apps_then_wechat() -> Day:
    d = Day()
    d.heartbeats(9, 11)
    for k in range(5000):
        d(9 * 3600 + k, "app.focus", app=f"tool{k}.exe", title="t", pid=3)
    d(10 * 3600 + 1800, "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=18,
      classes={"id_number": 1}, action="allowed")
    d(10 * 3600 + 1810, "app.focus", app="WeChat.exe", title="chat", pid=2)
    return d


def load(rev: str | None) -> tuple[Any, Any]:
    """``(DayRollup, AgentContext)`` now, or as ``detectors/rollup.py`` held them at ``rev`` (a revision from
    before the rollup was split into policy, context, features, day_state, day_events and phrasing)."""
    if rev is None:
        from detectors.context import AgentContext
        from detectors.rollup import DayRollup

        return DayRollup, AgentContext
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:detectors/rollup.py"], check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "rollup_then.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("detectors.rollup_then", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.DayRollup, module.AgentContext


def run(version: tuple[Any, Any], events: list[dict[str, Any]]) -> tuple[float, int, dict[str, float]]:
    rollup, context = version
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        r = rollup.new(context("a1", "t"), DAY)
        for e in events:
            r.add(e)
        features = r.features()
        size = len(json.dumps(r.to_state()))
        best = min(best, time.perf_counter() - t)
    return best, size, features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", help="also time detectors/rollup.py as of this git revision")
    args = ap.parse_args()
    versions = [("now", load(None))] + ([(args.compare, load(args.compare))] if args.compare else [])
    shown = ("copies_to_offlist", "ids_to_messaging", "messaging_min")
    for name, build in (("ordinary day", ordinary), ("3,000 carried copies", carried_copies),
                        ("5,000 apps, then WeChat", apps_then_wechat)):
        events = build().events
        for label, mod in versions:
            secs, size, f = run(mod, events)
            counts = ", ".join(f"{k} {f.get(k, 0):.0f}" for k in shown)
            print(f"{name:24s} {label:>10s}: {len(events) / secs:9.0f} events/s ({len(events)} in "
                  f"{secs * 1000:.1f} ms), state {size:,} B; {counts}")


if __name__ == "__main__":
    main()
