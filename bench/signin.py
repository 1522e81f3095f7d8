"""Sign-in benchmark: ingest latency with and without 8 concurrent failed sign-ins.

    .venv/bin/python bench/signin.py [--batches 40] [--events 50] [--threads 8]

Starts a real collector (SQLite) on loopback with the per-client sign-in limit off (so that every
attempt reaches Argon2), enrolls one PC and sends sealed batches one after another, timing each
answer: first alone, then while ``--threads`` clients post wrong passwords to ``/login`` without pause.
Each wrong password goes to an existing account (Argon2 against its hash, then the short write that
counts the failure), spread over many accounts so that none reaches its backoff.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from argon2 import PasswordHasher

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contract.schema import format_ts  # noqa: E402
from tests.conftest import CollectorProcess  # noqa: E402
from tests.web_fixtures import SimAgent  # noqa: E402

TRIES_PER_ACCOUNT = 4  # below the 5 failures after which sign-in backs off


def add_accounts(db: Path, names: list[str]) -> None:
    """Accounts with a real Argon2 hash, written straight into the database (hashing each would take minutes)."""
    password_hash = PasswordHasher().hash("the right password")
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany("INSERT INTO users (name, role, teams, password_hash, failed, created_at, disabled) "
                         "VALUES (?, 'security', '', ?, 0, ?, 0)", [(n, password_hash, time.time()) for n in names])
    conn.close()


def batch_latencies(agent: SimAgent, http: httpx.Client, batches: int, events: int) -> list[float]:
    out = []
    for _ in range(batches):
        now = datetime.now(UTC) - timedelta(seconds=5)
        evs = [{"ts": format_ts(now + timedelta(milliseconds=i)), "kind": "app.focus",
                "app": "crm.exe", "title": f"客户详情 {i}", "pid": 7} for i in range(events)]
        started = time.perf_counter()
        agent.send(lambda p, b: http.post(p, content=b, headers={"content-type": "application/json"}), evs,
                   per_batch=events)
        out.append(time.perf_counter() - started)
    return out


def hammer(url: str, names: list[str], stop: threading.Event, counts: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        for name in names:
            for _ in range(TRIES_PER_ACCOUNT):
                if stop.is_set():
                    return
                form = client.get("/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert csrf, form.text[:200]
                answer = client.post("/login", data={"name": name, "password": "a wrong guess",
                                                     "csrf": csrf.group(1)})
                assert answer.status_code == 401, answer.status_code
                counts.append(1)


def figures(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return (f"{label}: p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms over {len(ordered)} batches")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sg-bench-signin-"))
    os.environ["SEATGUARD_LOGIN_RATE_BURST"] = "0"  # every attempt reaches Argon2 (the served process reads it)
    try:
        collector = CollectorProcess(work / "collector")
        per_thread = [[f"bench-{t}-{k}" for k in range(200)] for t in range(args.threads)]
        add_accounts(collector.data / "seatguard.db", [n for names in per_thread for n in names])
        collector.start()
        try:
            with httpx.Client(base_url=collector.url, timeout=60) as http:
                agent = SimAgent("bench-pc")
                agent.enroll(lambda p, b: http.post(p, content=b, headers={"content-type": "application/json"}),
                             collector.token())
                batch_latencies(agent, http, 3, args.events)  # warm up
                alone = batch_latencies(agent, http, args.batches, args.events)
                stop, counts = threading.Event(), []
                threads = [threading.Thread(target=hammer, args=(collector.url, names, stop, counts))
                           for names in per_thread]
                for th in threads:
                    th.start()
                started = time.perf_counter()
                loaded = batch_latencies(agent, http, args.batches, args.events)
                elapsed = time.perf_counter() - started
                stop.set()
                for th in threads:
                    th.join(120)
        finally:
            collector.stop()
        print(figures("ingest alone", alone))
        print(figures(f"ingest during {args.threads} concurrent failed sign-ins", loaded))
        print(f"failed sign-ins meanwhile: {len(counts)} in {elapsed:.1f} s ({len(counts) / elapsed:.1f}/s), "
              f"{args.events} events a batch, SQLite, {os.cpu_count()} CPUs")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
