"""Ingest benchmark: events/s end to end (replay file -> stored rows) and agent-side seal+spool rate.

    .venv/bin/python bench/ingest.py [--events 200000] [--batch 1000] [--agents 1] [--today]

Starts a real collector (SQLite) on loopback, enrolls real agents, replays a generated file with
`seatguard-agent replay --wait` (split between the agents) and counts the rows that landed. The end-to-end
figure includes each agent's start-up; the steady figure is the collector's pace from the first batch it
received to the last. Also prints the CPU time the collector
and the agent spent on it (events per collector CPU-second depends far less on other load on the
machine than events per second does). The events fall on one day in the past (a backlog replayed) unless
``--today``: then on the collector's today, up to a few seconds ago, as live agents send them (a day still
under way is saved without its features: see the README's Rollups).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import AGENT, CollectorProcess, write_events  # noqa: E402


def seal_and_spool_rate(events_file: Path, batch: int, work: Path) -> float:
    from agent.identity import Identity
    from agent.pipeline import make_sealer
    from agent.spool import Spool
    from contract.wire import new_agent_key, new_collector_key, public_key_b64

    identity = Identity("bench", "t", "http://127.0.0.1:1", public_key_b64(new_collector_key().public_key()),
                        new_agent_key(), {})
    spool = Spool(work / "bench-spool.db", max_bytes=2**40).open()
    seal = make_sealer(identity)
    lines = [json.loads(x) for x in events_file.read_text(encoding="utf-8").splitlines()]
    for e in lines:
        e.pop("seq", None)
    started = time.perf_counter()
    for i in range(0, len(lines), batch):
        spool.append(lines[i:i + batch], seal)
    elapsed = time.perf_counter() - started
    spool.close()
    return len(lines) / elapsed


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def restamp_today(events: Path, tz_name: str = "Asia/Shanghai") -> None:
    """Move the events' moments into today (the collector's zone, its default), evenly up to 5 s ago."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from contract.envelope import format_ts

    now = datetime.now(ZoneInfo(tz_name)) - timedelta(seconds=5)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    lines = events.read_text(encoding="utf-8").splitlines()
    step = (now - midnight) / max(1, len(lines))
    out = []
    for k, line in enumerate(lines):
        event = json.loads(line)
        event["ts"] = format_ts(midnight + step * (k + 1))
        out.append(json.dumps(event, ensure_ascii=False))
    events.write_text("\n".join(out) + "\n", encoding="utf-8")


def split_events(events: Path, parts: int) -> list[Path]:
    """The replay file cut into ``parts`` files of consecutive lines (one per agent)."""
    lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
    size = -(-len(lines) // parts)
    out = []
    for k in range(parts):
        path = events.with_name(f"events-{k + 1}.jsonl")
        path.write_text("".join(lines[k * size:(k + 1) * size]), encoding="utf-8")
        out.append(path)
    return out


def steady_rate(db: Path) -> tuple[float, int]:
    """Events per second between the first and the last batch the collector received (without the agents'
    start-up and the last answer), and how many batches that spans."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT received_at, n_events FROM batches ORDER BY received_at").fetchall()
    finally:
        conn.close()
    if len(rows) < 2:
        return 0.0, len(rows)
    span = rows[-1][0] - rows[0][0]
    return (sum(n for _, n in rows[:-1]) / span if span > 0 else 0.0), len(rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=1, help="agent processes replaying at once (the events "
                        "are split between them)")
    parser.add_argument("--today", action="store_true", help="events of today (live agents), not of a past day")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    try:
        events = write_events(work / "events.jsonl", args.events)
        if args.today:
            restamp_today(events)
        rate = seal_and_spool_rate(events, args.batch, work)
        print(f"agent seal+spool: {rate:,.0f} events/s (batch {args.batch}, HPKE+Ed25519+zlib, SQLite FULL sync)")
        files = [events] if args.agents == 1 else split_events(events, args.agents)
        load = os.getloadavg()[0]
        collector = CollectorProcess(work / "collector")
        collector.start()
        try:
            homes = [work / f"agent-{k + 1}" for k in range(args.agents)]
            for k, home in enumerate(homes):
                collector.enroll(home, f"bench-{k + 1}")
            env = {**os.environ, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": str(args.batch)}
            assert collector.proc is not None
            cpu_before = process_cpu(collector.proc.pid)
            agent_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            procs = [subprocess.Popen([AGENT, "replay", "--home", str(home), "--wait", str(path)], env=env,
                                      stdout=subprocess.DEVNULL) for home, path in zip(homes, files, strict=True)]
            codes = [p.wait() for p in procs]
            elapsed = time.perf_counter() - started
            if any(codes):
                raise SystemExit(f"an agent failed: exit codes {codes}")
            collector_cpu = process_cpu(collector.proc.pid) - cpu_before
            agent_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            agent_cpu = (agent_after.ru_utime + agent_after.ru_stime) - (agent_before.ru_utime + agent_before.ru_stime)
            conn = sqlite3.connect(collector.data / "seatguard.db")
            stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            conn.close()
            steady, batches = steady_rate(collector.data / "seatguard.db")
        finally:
            collector.stop()
        agents = "one agent process" if args.agents == 1 else f"{args.agents} agent processes at once"
        print(f"end to end: {stored:,} of {args.events:,} events stored in {elapsed:.2f} s = "
              f"{stored / elapsed:,.0f} events/s (one collector process, SQLite WAL, {agents})")
        print(f"collector, first to last of {batches} batches received (no agent start-up): {steady:,.0f} events/s")
        print(f"CPU time: collector {collector_cpu:.2f} s ({stored / collector_cpu:,.0f} events per CPU-second), "
              f"agents {agent_cpu:.2f} s; load average before the run {load:.1f}")
        return 0 if stored == args.events else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
