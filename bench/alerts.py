"""Alert latency benchmark: from a batch POST to the collector until the webhook receiver holds the alert.

    .venv/bin/python bench/alerts.py [--alerts 150] [--rate 20] [--load-agents 10]

A real collector (SQLite, uvicorn on loopback) with alerts delivered to a real webhook receiver on
loopback. Each alert comes from its own enrolled agent: one sealed batch with a remote-access tool
starting, POSTed at ``--rate`` per second while ``--load-agents`` other agents keep ingest busy with
ordinary 200-event batches. Latency = receiver arrival - moment the POST began. Target: p95 <= 5 s.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn  # noqa: E402

from collector.alerts import AlertConfig  # noqa: E402
from collector.api import create_app  # noqa: E402
from simulator.testing.alerts import SealedAgent, WebhookReceiver, install, open_collector, wait_until  # noqa: E402
from tests.conftest import free_port  # noqa: E402


class Poster:
    """One keep-alive HTTP connection to the collector."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, body: bytes) -> None:
        self.conn.request("POST", "/api/v1/batches", body=body, headers={"Content-Type": "application/json"})
        answer = self.conn.getresponse()
        text = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"batch refused: {answer.status} {text[:200]!r}")


def background_load(collector: Any, port: int, agents: int, stop: threading.Event, counter: list[int]) -> None:
    poster = Poster(port)
    fleet = [SealedAgent(collector, f"load-{i}") for i in range(agents)]
    while not stop.is_set():
        for agent in fleet:
            events = [agent.event("app.focus", app="crm.exe", title=f"客户 {n}", pid=7) for n in range(199)]
            events.append(agent.event("agent.heartbeat", spool_depth=0, dropped_total=0, cpu_pct=1.0, rss_mb=40.0))
            poster.post(agent.seal(events))
            counter[0] += len(events)
            if stop.is_set():
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=150)
    parser.add_argument("--rate", type=float, default=20.0, help="alert batches per second")
    parser.add_argument("--load-agents", type=int, default=10, help="agents sending ordinary batches meanwhile")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    work = Path(tempfile.mkdtemp(prefix="seatguard-bench-alerts-"))
    receiver = WebhookReceiver()
    collector = open_collector(work / "c")
    service = install(collector, AlertConfig(webhook_url=receiver.url, webhook_secret="bench", wall="off"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(collector), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, 30, "uvicorn")

    alerting = [SealedAgent(collector, f"pc-{i:04d}") for i in range(args.alerts)]
    bodies = [a.seal([a.event("process.start", name="AnyDesk.exe", exe="C:\\AnyDesk.exe", pid=5,
                              category="remote_access")]) for a in alerting]
    stop, loaded = threading.Event(), [0]
    load = threading.Thread(target=background_load, args=(collector, port, args.load_agents, stop, loaded),
                            daemon=True)
    load.start()

    poster, started = Poster(port), {}
    t_begin = time.perf_counter()
    for i, (agent, body) in enumerate(zip(alerting, bodies, strict=True)):
        time.sleep(max(0.0, t_begin + i / args.rate - time.perf_counter()))
        started[agent.agent_id] = time.perf_counter()
        poster.post(body)
    wait_until(lambda: len(receiver.received) >= args.alerts, 120, "every alert at the webhook")
    elapsed = time.perf_counter() - t_begin
    stop.set()
    load.join(30)

    latency = sorted(r.at - started[r.json()["alert"]["agent_id"]] for r in receiver.received)
    q = statistics.quantiles(latency, n=100)
    print(f"alerts delivered: {len(latency)} in {elapsed:.1f} s ({args.rate:g}/s offered), "
          f"background ingest: {loaded[0]} events ({loaded[0] / elapsed:.0f} events/s, {args.load_agents} agents)")
    print(f"batch POST -> webhook latency: p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, "
          f"max {latency[-1] * 1000:.0f} ms (target p95 <= 5000 ms)")
    server.should_exit = True
    service.close()
    collector.close()
    receiver.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0 if q[94] <= 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())
