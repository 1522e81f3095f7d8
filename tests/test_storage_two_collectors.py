"""Scale-out end to end: two real `serve` processes on one PostgreSQL behind a round-robin balancer.

Real agents replay their files through the balancer. It sends each batch to the next collector;
every fourth batch it sends to both collectors at the same moment, and every seventh it delivers but
answers 502 (a lost acknowledgement), so the agent re-sends it and the copy lands on the other
collector. Nothing may be lost or doubled, and sequence and chain bookkeeping must stay clean.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import requests

from collector.customer_secret import SECRET_FILE
from collector.keys import KEY_FILE, SIGNING_KEY_FILE
from tests.conftest import AGENT, COLLECTOR, FAST_AGENT_ENV, CollectorProcess, free_port, run_cli, write_events
from tests.storage_fixtures import pg_schema

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Balancer:
    """A tiny HTTP load balancer that also misbehaves on purpose (see the module docstring)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.counter = itertools.count()
        self.sent_twice = 0
        self.acks_lost = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _forward(self, backend: str, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            resp = requests.post(backend + path, data=body, headers={"Content-Type": "application/json"},
                                 timeout=60)
        except requests.RequestException:
            return 502, b'{"error": {"code": "bad_gateway", "message": "backend unreachable"}}'
        return resp.status_code, resp.content

    def route(self, path: str, body: bytes) -> tuple[int, bytes]:
        n = next(self.counter)
        here, there = self.backends[n % 2], self.backends[(n + 1) % 2]
        if path != "/api/v1/batches":
            return self._forward(here, path, body)
        if n % 4 == 3:
            self.sent_twice += 1
            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(lambda b: self._forward(b, path, body), (here, there)))
            return next((a for a in answers if a[0] == 200), answers[0])
        status, answer = self._forward(here, path, body)
        if n % 7 == 6 and status == 200:
            self.acks_lost += 1
            return 502, b'{"error": {"code": "bad_gateway", "message": "acknowledgement lost"}}'
        return status, answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        balancer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = balancer.route(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                return

        return Handler

    def __enter__(self) -> Balancer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def two_collectors(tmp_path: Path) -> Iterator[tuple[str, list[CollectorProcess]]]:
    with pg_schema() as url:
        first = tmp_path / "collector-a"
        first.mkdir()
        (first / "collector.toml").write_text(f'db_url = "{url}"\n', encoding="utf-8")
        a = CollectorProcess(first)
        second = tmp_path / "collector-b"
        second.mkdir()
        for name in ("collector.toml", KEY_FILE, SIGNING_KEY_FILE, SECRET_FILE):  # one deployment: same settings, keys
            shutil.copy2(first / name, second / name)
        b = CollectorProcess(second)
        try:
            a.start()
            b.start()
            yield url, [a, b]
        finally:
            a.kill()
            b.kill()


def test_two_collectors_one_database_nothing_lost_nothing_doubled(
        two_collectors: tuple[str, list[CollectorProcess]], tmp_path: Path) -> None:
    url, (a, b) = two_collectors
    agents, n = ["pc-1", "pc-2", "pc-3"], 4000
    with Balancer([a.url, b.url]) as lb:
        for name in agents:
            run_cli(AGENT, "enroll", "--home", str(tmp_path / name), "--collector", lb.url, "--token", a.token(),
                    "--name", name)
        env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": "100"}
        procs = [subprocess.Popen([AGENT, "replay", "--home", str(tmp_path / name), "--wait",
                                  str(write_events(tmp_path / f"{name}.jsonl", n))],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in agents]
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            assert json.loads(out)["spool_depth_events"] == 0
        assert lb.sent_twice > 10 and lb.acks_lost > 5
        counts = [_batch_counts(c.url) for c in (a, b)]
        assert all(c["stored"] > 0 for c in counts), counts
        assert sum(c["duplicate"] for c in counts) >= lb.sent_twice + lb.acks_lost, counts
    schema_name = url.rsplit("%3D", 1)[1]
    with psycopg.connect(url.split("?")[0], options=f"-csearch_path={schema_name}") as conn:
        for name in agents:
            seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE agent_id = %s ORDER BY seq", (name,))]
            assert seqs == list(range(1, n + 1)), f"{name}: lost or doubled events"
            markers = sorted(int(json.loads(r[0])["title"].split()[0][5:]) for r in conn.execute(
                "SELECT data FROM events WHERE agent_id = %s", (name,)))
            assert markers == list(range(n))
    for collector in (a, b):
        for name in agents:
            stats = collector.stats(name)
            assert stats["events"] == n and stats["gaps"] == {}, stats
            assert stats["agent"]["last_seq"] == n and stats["agent"]["last_batch_seq"] == stats["batches"]
    run_cli(COLLECTOR, "stats", "--data", str(b.data))


def _batch_counts(url: str) -> dict[str, float]:
    out = {"stored": 0.0, "duplicate": 0.0}
    for line in requests.get(url + "/metrics", timeout=10).text.splitlines():
        for outcome in out:
            if line.startswith(f'seatguard_batches_total{{outcome="{outcome}"}}'):
                out[outcome] = float(line.split()[-1])
    return out
