"""Storage benchmarks, SQLite and PostgreSQL side by side (figures for the README).

    .venv/bin/python bench/storage.py ingest   [--agents 4] [--events 25000] [--batch 500]
    .venv/bin/python bench/storage.py timeline [--events 20000000] [--agents 2000] [--days 5] [--queries 300]
    .venv/bin/python bench/storage.py report   [--agents 10000] [--history 30]
    (each takes --backend sqlite|postgresql|both; PostgreSQL at 127.0.0.1:5432, database ``test``)

ingest   real ``serve`` processes (one, then two sharing the database and the key) and real agents: the
         agents first spool their files with the collectors down, then all drain at once; events/s is
         rows stored / drain time. Also the store alone (``Store.ingest``, no HTTP or crypto) in one
         and in two processes.
timeline a store filled directly in SQL (not through HTTP) with N events of A agents over D days,
         interleaved as ingest leaves them (batches of 100 events of one agent); then p50/p95 of
         ``Store.timeline`` (query + JSON decoding) for random agent-days. Prints how long the load took.
report   ``ReportService.build`` for one day of A agents with synthetic rollups and H days of history.

PostgreSQL runs use a schema of their own, dropped afterwards (``--keep`` keeps it and prints its URL).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from collector.customer_secret import SECRET_FILE  # noqa: E402
from collector.keys import KEY_FILE, SIGNING_KEY_FILE  # noqa: E402
from collector.storage import BatchWrite, StoredEvent, open_store  # noqa: E402
from collector.storage import tables as t  # noqa: E402
from collector.storage.sql import SqlStore  # noqa: E402
from tests.conftest import AGENT, CollectorProcess, run_cli, write_events  # noqa: E402

PG = os.environ.get("SEATGUARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TZ = ZoneInfo("Asia/Shanghai")


# -- databases -----------------------------------------------------------------------------------------------
@contextmanager
def database(backend: str, work: Path, keep: bool = False) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{work / 'bench.db'}"
        return
    name = f"sg_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    url = f"{PG}?options=-csearch_path%3D{name}"
    try:
        yield url
    finally:
        if keep:
            print(f"  kept PostgreSQL schema: {url}")
        else:
            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {name} CASCADE")


def backends(choice: str) -> list[str]:
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


# -- ingest ----------------------------------------------------------------------------------------------------
def http_ingest(backend: str, processes: int, agents: int, events: int, batch: int, work: Path) -> float:
    with database(backend, work) as url:
        dirs = [work / f"collector-{i}" for i in range(processes)]
        dirs[0].mkdir(parents=True)
        (dirs[0] / "collector.toml").write_text(f'db_url = "{url}"\n', encoding="utf-8")
        collectors = [CollectorProcess(dirs[0])]
        for d in dirs[1:]:
            d.mkdir()
            for name in ("collector.toml", KEY_FILE, SIGNING_KEY_FILE, SECRET_FILE):  # one deployment
                shutil.copy2(dirs[0] / name, d / name)
            collectors.append(CollectorProcess(d))
        files = []
        env = {**os.environ, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": str(batch),
               "SEATGUARD_AGENT_BACKOFF_MIN_S": "0.05", "SEATGUARD_AGENT_BACKOFF_MAX_S": "0.2"}
        try:
            for c in collectors:
                c.start()
            for i in range(agents):
                c = collectors[i % processes]
                c.enroll(work / f"agent-{i}", f"bench-{i}")
                files.append(write_events(work / f"events-{i}.jsonl", events))
            for c in collectors:
                c.kill()
            spoolers = [subprocess.Popen([AGENT, "replay", "--home", str(work / f"agent-{i}"), str(files[i])],
                                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for i in range(agents)]  # the collectors are down: upload attempts fail, quietly
            for p in spoolers:
                p.wait()
            for c in collectors:
                c.start()
            started = time.perf_counter()
            drains = [subprocess.Popen([AGENT, "replay", "--home", str(work / f"agent-{i}"), "--wait",
                                        str(files[i])], env=env, stdout=subprocess.DEVNULL) for i in range(agents)]
            for p in drains:
                p.wait()
            elapsed = time.perf_counter() - started
            stored = int(orjson.loads(run_cli(str(Path(AGENT).parent / "seatguard-collector"), "stats", "--data",
                                              str(dirs[0])))["events"])
        finally:
            for c in collectors:
                c.kill()
        if stored != agents * events:
            raise SystemExit(f"stored {stored} of {agents * events} events")
        return stored / elapsed


def _store_worker(url: str, agent_ids: list[str], batches: int, per: int, out: Any) -> None:
    store = open_store(url)
    body = orjson.dumps({"schema": 1, "kind": "app.focus", "app": "chrome.exe", "pid": 4242,
                         "title": "客户详情 身份证 **************002X"}).decode()
    started = time.perf_counter()
    for b in range(1, batches + 1):
        for aid in agent_ids:
            events = [StoredEvent(s, "2026-11-23T10:00:00.000+08:00", s, "2026-11-23", "app.focus", body, {})
                      for s in range((b - 1) * per + 1, b * per + 1)]
            store.ingest(BatchWrite(aid, b, f"h{b}", f"h{b - 1}", events, [], time.time()))
    out.put(time.perf_counter() - started)
    store.close()


def store_ingest(backend: str, processes: int, agents: int, events: int, batch: int, work: Path) -> float:
    with database(backend, work) as url:
        store = open_store(url)
        store.create_schema()
        ids = [f"bench-{i}" for i in range(agents)]
        for aid in ids:
            store.add_enroll_token(aid, "t", "agent", None, 0.0, 4e9)
            store.enroll_agent(aid, {"agent_id": aid, "public_key": "k"}, 1.0)
        store.close()
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        started = time.perf_counter()
        procs = [ctx.Process(target=_store_worker, args=(url, ids[i::processes], events // batch, batch, out))
                 for i in range(processes)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - started
        return agents * (events // batch) * batch / elapsed


def cmd_ingest(args: argparse.Namespace) -> None:
    total = args.agents * args.events
    print(f"ingest: {args.agents} agents x {args.events:,} events, batches of {args.batch} ({total:,} events)")
    for backend in backends(args.backend):
        for n in (1, 2):
            with tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp:
                rate = http_ingest(backend, n, args.agents, args.events, args.batch, Path(tmp))
            print(f"  {backend:10s} {n} collector process(es), HTTP end to end: {rate:10,.0f} events/s")
        for n in (1, 2):
            with tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp:
                rate = store_ingest(backend, n, args.agents, args.events, args.batch, Path(tmp))
            print(f"  {backend:10s} {n} process(es), Store.ingest only:     {rate:10,.0f} events/s")


# -- timeline --------------------------------------------------------------------------------------------------
def _local_ms(day: date, hour: int) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=TZ).timestamp() * 1000)


def _day_sql(backend: str) -> str:
    """One INSERT ... SELECT for one day: agents x per_day events, in batches of 100 per agent."""
    title = ("'客户详情 case-' || (k / 25) || ' 身份证 **************' || substr('0000' || (k % 9999), -4)"
             if backend == "sqlite" else
             "'客户详情 case-' || (k / 25) || ' 身份证 **************' || lpad((k % 9999)::text, 4, '0')")
    kind = "CASE WHEN k % 3 = 0 THEN 'page.open' ELSE 'app.focus' END"
    if backend == "sqlite":
        agent = "'bench-' || substr('00000' || a, -5)"
        ts = "strftime('%Y-%m-%dT%H:%M:%f', ts_ms / 1000.0, 'unixepoch', '+8 hours') || '+08:00'"
        rows = ("WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x + 1 < :chunks), "
                "ag(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM ag WHERE x + 1 < :agents), "
                "i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 100), "
                "g AS (SELECT ag.x AS a, c.x * 100 + i.x AS k FROM c, ag, i ORDER BY c.x, ag.x, i.x), "
                "r AS (SELECT a, k, :seq0 + k AS seq, :base_ms + k * :step_ms AS ts_ms FROM g) ")
    else:
        agent = "'bench-' || lpad(a::text, 5, '0')"
        ts = ("to_char(to_timestamp(ts_ms / 1000.0) AT TIME ZONE 'Asia/Shanghai', "
              "'YYYY-MM-DD\"T\"HH24\\:MI\\:SS.MS') || '+08:00'")
        rows = ("WITH r AS (SELECT a, k, :seq0 + k AS seq, :base_ms + k * :step_ms AS ts_ms FROM "
                "generate_series(0, :chunks - 1) c, generate_series(0, :agents - 1) a, generate_series(1, 100) i, "
                "LATERAL (SELECT c * 100 + i AS k) kk) ")
    return (rows + "INSERT INTO events (agent_id, seq, ts, ts_ms, day, kind, data) "
            f"SELECT {agent}, seq, {ts}, ts_ms, :day, {kind}, "
            "'{\"schema\"\\:1,\"agent_id\":\"' || " + agent + " || '\",\"seq\":' || seq || ',\"ts\":\"' || " + ts
            + " || '\",\"kind\":\"' || " + kind + " || '\",\"app\":\"chrome.exe\",\"title\":\"' || " + title
            + " || '\",\"pid\"\\:4242}' FROM r")


def fill_events(store: SqlStore, backend: str, agents: int, days: int, per_day: int) -> float:
    """Load agents x days x per_day events straight in SQL; returns the seconds it took."""
    first = date(2026, 10, 1)
    sql = text(_day_sql(backend))
    started = time.perf_counter()
    for d in range(days):
        day = first + timedelta(days=d)
        if backend == "postgresql":
            store.partitions.ensure([day.isoformat()])  # type: ignore[attr-defined]
        with store._write() as conn:
            conn.execute(sql, {"chunks": per_day // 100, "agents": agents, "seq0": d * per_day,
                               "base_ms": _local_ms(day, 8), "step_ms": 8 * 3600 * 1000 // per_day,
                               "day": day.isoformat()})
        print(f"    day {d + 1}/{days} loaded after {time.perf_counter() - started:,.0f} s", flush=True)
    with store._write() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def cmd_timeline(args: argparse.Namespace) -> None:
    per_day = args.events // (args.agents * args.days) // 100 * 100
    total = per_day * args.agents * args.days
    print(f"timeline: {total:,} events = {args.agents} agents x {args.days} days x {per_day} events an agent-day")
    for backend in backends(args.backend):
        with tempfile.TemporaryDirectory(prefix="sg-bench-", dir=args.tmp) as tmp, \
                database(backend, Path(tmp), args.keep) as url:
            store = open_store(url)
            assert isinstance(store, SqlStore)
            store.create_schema()
            load_s = fill_events(store, backend, args.agents, args.days, per_day)
            count = int(store.stats()["events"])
            print(f"  {backend}: loaded {count:,} events in {load_s:,.0f} s ({count / load_s:,.0f} rows/s)")
            rng = random.Random(7)
            first = date(2026, 10, 1)
            samples = []
            for q in range(args.queries + 20):
                aid = f"bench-{rng.randrange(args.agents):05d}"
                day = (first + timedelta(days=rng.randrange(args.days))).isoformat()
                started = time.perf_counter()
                rows = store.timeline(aid, day)
                if q >= 20:  # the first queries warm the connection pool and caches
                    samples.append((time.perf_counter() - started) * 1000)
                assert len(rows) == per_day, (aid, day, len(rows))
            samples.sort()
            p50 = statistics.median(samples)
            p95 = samples[int(len(samples) * 0.95) - 1]
            print(f"  {backend}: timeline of one agent-day ({per_day} events) over {len(samples)} random "
                  f"agent-days: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {samples[-1]:.1f} ms")
            store.close()


# -- report ----------------------------------------------------------------------------------------------------
def _template_days(collector: Any, n: int, day: date) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """n varied agent-days folded by the real rollup code: (state, features)."""
    from detectors.rollup import DayRollup

    rng = random.Random(11)
    out = []
    for k in range(n):
        ctx = collector.rollups.context(f"tpl-{k}")
        rollup = DayRollup.new(ctx, day)
        seq, sec = 0, 9 * 3600 + rng.randrange(600)
        while sec < 18 * 3600:
            seq += 1
            ts = datetime.combine(day, datetime.min.time(), TZ) + timedelta(seconds=sec)
            stamp = ts.isoformat(timespec="milliseconds")
            kind = rng.choice(["app.focus", "app.focus", "page.open", "clipboard.copy", "case.open"])
            event: dict[str, Any] = {"schema": 1, "agent_id": ctx.agent_id, "seq": seq, "ts": stamp, "kind": kind}
            if kind == "app.focus":
                event.update(app=rng.choice(["crm.exe", "chrome.exe", "excel.exe", "wechat.exe"]), title="t", pid=1)
            elif kind == "page.open":
                event.update(url=f"https://crm.example/customer/{rng.randrange(10**6)}", title="客户", app="chrome.exe")
            elif kind == "clipboard.copy":
                event.update(app="crm.exe", title="t", trigger="hotkey", chars=18,
                             classes={"id_number": int(rng.random() < 0.2), "phone": 0, "bank_card": 0},
                             action="allowed")
            else:
                event.update(case_id=f"C{rng.randrange(10**6)}", app="crm.exe", title="case")
            rollup.add(event)
            sec += rng.randrange(20, 240)
        out.append((rollup.to_state(), rollup.features()))
    return out


def cmd_report(args: argparse.Namespace) -> None:
    from collector.cli import main as collector_main
    from collector.service import Collector

    day = date(2026, 11, 23)
    print(f"report: {args.agents:,} agents, one day scored against {args.history} days of history")
    for backend in backends(args.backend):
        with tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp, database(backend, Path(tmp)) as url:
            data = Path(tmp) / "collector"
            with redirect_stdout(io.StringIO()):
                assert collector_main(["init", "--data", str(data), "--db", url]) == 0
            collector = Collector.open(data)
            started = time.perf_counter()
            templates = _template_days(collector, 200, day)
            rng = random.Random(5)
            agents = [{"agent_id": f"bench-{i:05d}", "team": f"team-{i // 25:04d}", "role": "agent",
                       "public_key": "k", "enrolled_at": 1.0, "last_seq": 0, "last_batch_seq": 0, "events": 0}
                      for i in range(args.agents)]
            rows = []
            for i, a in enumerate(agents):
                state, feats = templates[i % len(templates)]
                rows.append({"agent_id": a["agent_id"], "day": day.isoformat(),
                             "state": orjson.dumps({**state, "agent_id": a["agent_id"]}).decode(),
                             "features": orjson.dumps(feats).decode(), "updated_at": 1.0})
                for h in range(1, args.history + 1):
                    jitter = {k: v * rng.uniform(0.8, 1.2) for k, v in feats.items()}
                    rows.append({"agent_id": a["agent_id"], "day": (day - timedelta(days=h)).isoformat(),
                                 "state": "{}", "features": orjson.dumps(jitter).decode(), "updated_at": 1.0})
            with collector.store._write() as conn:
                conn.execute(insert(t.agents), agents)
                for i in range(0, len(rows), 20_000):
                    conn.execute(insert(t.rollups), rows[i:i + 20_000])
            print(f"  {backend}: {len(rows):,} rollup rows made and stored in {time.perf_counter() - started:.0f} s")
            started = time.perf_counter()
            report = collector.reports.build(day.isoformat())
            elapsed = time.perf_counter() - started
            print(f"  {backend}: ReportService.build over {args.agents:,} agents: {elapsed:.1f} s "
                  f"({len(report['findings'])} findings)")
            collector.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("--agents", type=int, default=4)
    p.add_argument("--events", type=int, default=25_000, help="events per agent")
    p.add_argument("--batch", type=int, default=500)
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("timeline")
    p.add_argument("--events", type=int, default=20_000_000)
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--tmp", help="folder for the SQLite file (default: the system temp folder)")
    p.set_defaults(func=cmd_timeline)
    p = sub.add_parser("report")
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--history", type=int, default=30)
    p.set_defaults(func=cmd_report)
    for p in sub.choices.values():
        p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
