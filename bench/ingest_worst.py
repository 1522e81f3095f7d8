"""Worst-case write-lock time of one batch: how long the ingest transaction of a batch at the caps lasts.

    .venv/bin/python bench/ingest_worst.py [--db postgresql://...] [--events N]

Seals and signs batches of the most expensive shapes the caps allow (``max_batch_events`` events,
``max_inflated_bytes`` of JSON) with the agent's own wire code and posts them to an in-process
collector; for each it prints the whole request time and the part spent holding the database write
transaction (``Store.ingest``: events, quarantine, integrity, rollups). The README records the figures
that bound ``max_batch_events`` and ``max_inflated_bytes``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import string
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402

from collector.api import create_app  # noqa: E402
from simulator.testing.alerts import SealedAgent, open_collector  # noqa: E402


def shapes(n: int, max_bytes: int) -> dict[str, Callable[[SealedAgent, datetime], list[dict[str, Any]]]]:
    title = max(16, min(8000, max_bytes // max(n, 1) - 200))  # near max_inflated_bytes in all

    def switches_after_copies(pc: SealedAgent, t0: datetime) -> list[dict[str, Any]]:
        out = []
        for i in range(n):  # every switch pairable with a sensitive copy just before it
            ts = t0 + timedelta(milliseconds=200 * i)
            if i % 2:
                out.append(pc.event("app.focus", ts, app=f"chat{i % 150}.exe", title="t", pid=i))
            else:
                out.append(pc.event("clipboard.copy", ts, app="crm.exe", title="c", trigger="hotkey", chars=18,
                                    classes={"id_number": 1}, action="allowed"))
        return out

    rng = random.Random(14)
    words = ["".join(rng.choices(string.ascii_letters, k=7)) for _ in range(40)] + ["客户", "13800138000"]

    def long_titles(pc: SealedAgent, t0: datetime) -> list[dict[str, Any]]:
        def text() -> str:  # compresses about 8:1, within the ratio cap
            return " ".join(rng.choice(words) for _ in range(title // 6))[:title]
        return [pc.event("app.focus", t0 + timedelta(milliseconds=100 * i), app="crm.exe", title=text(), pid=i)
                for i in range(n)]

    def customer_pages(pc: SealedAgent, t0: datetime) -> list[dict[str, Any]]:
        return [pc.event("page.open", t0 + timedelta(milliseconds=100 * i), app="chrome.exe",
                         url=f"https://crm.internal/customers/{i}", title="x") for i in range(n)]

    def all_quarantined(pc: SealedAgent, t0: datetime) -> list[dict[str, Any]]:
        return [pc.event("no.such", t0 + timedelta(milliseconds=100 * i), blob="x" * 200) for i in range(n)]

    return {"switches after copies": switches_after_copies, "long titles at the byte cap": long_titles,
            "customer pages": customer_pages, "all quarantined": all_quarantined}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite in a temporary folder)")
    parser.add_argument("--events", type=int, default=0, help="events per batch (default: max_batch_events)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        collector = open_collector(Path(tmp) / "c", args.db)
        n = args.events or collector.settings.max_batch_events
        max_bytes = collector.settings.max_inflated_bytes
        client = TestClient(create_app(collector), base_url="http://t")
        held: list[float] = []
        real_ingest = collector.store.ingest

        def timed_ingest(write: Any) -> Any:
            started = time.perf_counter()
            try:
                return real_ingest(write)
            finally:
                held.append(time.perf_counter() - started)

        collector.store.ingest = timed_ingest  # type: ignore[method-assign]  # a benchmark's probe
        t0 = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
        rows = []
        for k, (name, make) in enumerate(shapes(n, max_bytes).items()):
            pc = SealedAgent(collector, f"bench-{k}")
            body = pc.seal(make(pc, t0))
            held.clear()
            started = time.perf_counter()
            answer = client.post("/api/v1/batches", content=body)
            total = time.perf_counter() - started
            rows.append((name, len(body), answer.status_code, total, held[0] if held else 0.0))
        collector.close()
    print(f"{n} events per batch, max_inflated_bytes {max_bytes}, backend {'postgresql' if args.db else 'sqlite'}")
    for name, size, status, total, lock in rows:
        print(f"{name:30s} body {size / 1e6:6.2f} MB  HTTP {status}  request {total:6.2f} s  write lock {lock:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
