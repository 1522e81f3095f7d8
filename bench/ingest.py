"""Ingest benchmark: events/s end to end (replay file -> stored rows) and agent-side seal+spool rate.

    .venv/bin/python bench/ingest.py [--events 200000] [--batch 500]

Starts a real collector (SQLite) on loopback, enrolls a real agent, replays a generated file with
`seatguard-agent replay --wait` and counts the rows that landed. Also prints the CPU time the collector
and the agent spent on it (events per collector CPU-second depends far less on other load on the
machine than events per second does).
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    try:
        events = write_events(work / "events.jsonl", args.events)
        rate = seal_and_spool_rate(events, args.batch, work)
        print(f"agent seal+spool: {rate:,.0f} events/s (batch {args.batch}, HPKE+Ed25519+zlib, SQLite FULL sync)")
        load = os.getloadavg()[0]
        collector = CollectorProcess(work / "collector")
        collector.start()
        try:
            home = work / "agent"
            collector.enroll(home, "bench-1")
            env = {**os.environ, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": str(args.batch)}
            assert collector.proc is not None
            cpu_before = process_cpu(collector.proc.pid)
            agent_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run([AGENT, "replay", "--home", str(home), "--wait", str(events)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - started
            collector_cpu = process_cpu(collector.proc.pid) - cpu_before
            agent_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            agent_cpu = (agent_after.ru_utime + agent_after.ru_stime) - (agent_before.ru_utime + agent_before.ru_stime)
            conn = sqlite3.connect(collector.data / "seatguard.db")
            stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            conn.close()
        finally:
            collector.stop()
        print(f"end to end: {stored:,} of {args.events:,} events stored in {elapsed:.2f} s = "
              f"{stored / elapsed:,.0f} events/s (one collector process, SQLite WAL, one agent process)")
        print(f"CPU time: collector {collector_cpu:.2f} s ({stored / collector_cpu:,.0f} events per CPU-second), "
              f"agent {agent_cpu:.2f} s; load average before the run {load:.1f}")
        return 0 if stored == args.events else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
