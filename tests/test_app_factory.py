"""The application factory: parts by name, an ingest-only collector without the web UI, named ingest listeners."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from fastapi import FastAPI

from collector.api import APP_PARTS, DEFAULT_PARTS, create_app, register_part
from collector.cli import main as collector_main
from collector.errors import ConfigError
from collector.ingest import IngestNotice
from collector.listeners import IngestListeners
from collector.service import Collector
from contract import wire
from contract.schema import format_ts
from tests.answer_fixtures import verified_receipt
from tests.conftest import COLLECTOR, DATA_DIRS, RAW_IDS, CollectorProcess

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    data = tmp_path_factory.mktemp("factory") / "c"
    assert collector_main(["init", "--data", str(data)]) == 0
    DATA_DIRS.append(data)
    c = Collector.open(data)
    yield c
    c.close()


def _sealed(agent: dict[str, Any], key: Any) -> bytes:
    now = format_ts(datetime.now(UTC))
    events = [{"schema": 1, "agent_id": agent["agent_id"], "seq": 1, "ts": now, "kind": "app.focus",
               "app": "chrome.exe", "title": f"客户 {RAW_IDS[0]}", "pid": 1}]
    body, _ = wire.seal_batch(agent_id=agent["agent_id"], batch_seq=1, prev_batch_hash=wire.GENESIS_HASH,
                              events=events, sealed_at=now,
                              collector_key=wire.load_x25519_public(agent["collector_key"]), agent_key=key)
    return body


async def _ship(app: FastAPI, collector: Collector, name: str) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """Enroll an agent and ship one sealed batch, through ``app`` in-process: (enroll answer, body, answer)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
        key = wire.new_agent_key()
        token = collector.enrollment.create_token("cs-ingest")
        enrolled = await client.post("/api/v1/enroll", json={
            "token": token, "public_key": wire.public_key_b64(key.public_key()), "name": name})
        assert enrolled.status_code == 200, enrolled.text
        agent = enrolled.json()
        body = _sealed(agent, key)
        answer = await client.post("/api/v1/batches", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        return agent, body, answer.json()


def test_ingest_works_without_the_web_ui(collector: Collector) -> None:
    app = create_app(collector, ("health", "ingest"))
    heard: list[IngestNotice] = []
    collector.listeners.register("probe", heard.append)
    try:
        agent, body, answer = asyncio.run(_ship(app, collector, "pc-ingest-only"))
    finally:
        collector.listeners.unregister("probe")
    assert answer["status"] == "stored" and answer["stored"] == 1
    receipt = verified_receipt(answer, body, agent["signing_keys"])
    assert receipt.outcome == "stored"
    assert collector.store.stats(agent["agent_id"])["events"] == 1
    assert [(n.agent_id, n.batch_seq, len(n.events)) for n in heard] == [(agent["agent_id"], 1, 1)]
    assert RAW_IDS[0] not in str(heard[0].events), "listeners hear masked events"
    paths = {getattr(r, "path", "") for r in app.routes}
    assert {"/api/v1/enroll", "/api/v1/batches", "/api/v1/blobs", "/healthz", "/metrics"} <= paths
    assert not paths & {"/login", "/wall", "/api/v1/agents", "/api/v1/alerts", "/static"}, paths
    assert "wall" not in collector.listeners, "the live wall listens only where the web UI is mounted"


def test_missing_parts_answer_404_in_the_one_error_shape(collector: Collector) -> None:
    app = create_app(collector, ("health", "ingest"))

    async def calls() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client:
            return [await client.get("/login"), await client.get("/api/v1/agents"),
                    await client.post("/api/v1/batches", content=b"{}")]

    login, agents, bad = asyncio.run(calls())
    assert login.status_code == agents.status_code == 404
    assert login.json()["error"]["code"] == "not_found"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed", bad.text


def test_an_ingest_only_app_never_imports_the_web_ui(tmp_path: Path) -> None:
    """A build without the web UI: ``collector.web`` cannot be imported, yet the ingest app is assembled."""
    data = tmp_path / "c"
    assert collector_main(["init", "--data", str(data)]) == 0
    DATA_DIRS.append(data)
    script = (
        "import sys\n"
        "sys.modules['collector.web'] = None  # this build has no web UI\n"
        "from pathlib import Path\n"
        "from collector.api import create_app\n"
        "from collector.service import Collector\n"
        f"c = Collector.open(Path({str(data)!r}))\n"
        "app = create_app(c, ('health', 'ingest'))\n"
        "full = create_app(c)  # the default parts skip the missing UI with a warning\n"
        "print(sorted(getattr(r, 'path', '') for r in app.routes if 'login' in getattr(r, 'path', '')))\n"
        "print(any(getattr(r, 'path', '') == '/api/v1/alerts' for r in full.routes))\n"
        "print(any(getattr(r, 'path', '') == '/login' for r in full.routes))\n"
        "c.close()\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "True", "False"], out.stdout
    assert "web UI not available in this build" in out.stderr


def test_the_default_app_mounts_every_part_and_the_wall_listener(collector: Collector) -> None:
    assert DEFAULT_PARTS == ("ingest", "query", "health", "alerts", "shifts", "holds", "web")
    app = create_app(collector)
    paths = {getattr(r, "path", "") for r in app.routes}
    assert {"/api/v1/batches", "/api/v1/agents", "/api/v1/alerts", "/api/v1/agents/{agent_id}/shifts", "/login",
            "/wall", "/healthz"} <= paths
    assert app.state.parts == DEFAULT_PARTS
    assert collector.listeners.names() == ["alerts", "wall"]
    create_app(collector)  # a second app (tests build many) registers the same wall listener once
    assert collector.listeners.names() == ["alerts", "wall"]


def test_parts_are_registered_by_name(collector: Collector) -> None:
    with pytest.raises(ConfigError, match="unknown app part"):
        create_app(collector, ("ingest", "nope"))

    def version(app: FastAPI, c: Collector) -> None:
        app.add_api_route("/version", lambda: {"schema": c.store.get_kv("schema_version")}, methods=["GET"])

    register_part("version", version)
    try:
        with pytest.raises(ConfigError, match="already taken"):
            register_part("version", lambda app, c: None)
        app = create_app(collector, ("health", "version"))

        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client:
                return await client.get("/version")

        answer = asyncio.run(call())
        assert answer.status_code == 200 and answer.json()["schema"] == collector.store.get_kv("schema_version")
    finally:
        APP_PARTS.pop("version")


def test_ingest_listeners_by_name() -> None:
    target: list[Any] = []
    listeners = IngestListeners(target)
    first: list[str] = []
    second: list[str] = []

    def one(notice: IngestNotice) -> None:
        first.append(notice.agent_id)

    def two(notice: IngestNotice) -> None:
        second.append(notice.agent_id)

    listeners.register("one", one)
    listeners.register("one", one)  # the same pair again: no second call per batch
    assert target == [one] and listeners.names() == ["one"]
    with pytest.raises(ConfigError, match="already taken"):
        listeners.register("one", two)
    with pytest.raises(ConfigError, match="plain name"):
        listeners.register("a b", two)
    listeners.register("two", two)

    def three(notice: IngestNotice) -> None:
        first.append("three")

    listeners.register("one", three, replace=True)  # the old "one" stops hearing batches
    assert target == [two, three] and listeners.names() == ["two", "one"]
    listeners.unregister("two")
    assert target == [three] and listeners.get("one") is three and "two" not in listeners
    with pytest.raises(ConfigError, match="no ingest listener named 'two'"):
        listeners.unregister("two")


class IngestOnlyProcess(CollectorProcess):
    """``seatguard-collector serve --parts health,ingest``: a real ingest-only collector."""

    def start(self) -> None:
        log = (self.data / "serve.out").open("ab")
        self.proc = subprocess.Popen([COLLECTOR, "serve", "--data", str(self.data), "--port", str(self.port),
                                      "--parts", "health,ingest"], stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy()


def test_serve_mounts_only_the_parts_asked_for(tmp_path: Path) -> None:
    server = IngestOnlyProcess(tmp_path / "c")
    server.start()
    try:
        key = wire.new_agent_key()
        enrolled = requests.post(server.url + "/api/v1/enroll", timeout=10, json={
            "token": server.token(), "public_key": wire.public_key_b64(key.public_key()), "name": "pc-serve"})
        assert enrolled.status_code == 200, enrolled.text
        agent = enrolled.json()
        body = _sealed(agent, key)
        answer = requests.post(server.url + "/api/v1/batches", data=body, timeout=10,
                               headers={"content-type": "application/json"})
        assert answer.status_code == 200 and answer.json()["stored"] == 1, answer.text
        assert verified_receipt(answer.json(), body, agent["signing_keys"]).outcome == "stored"
        for path in ("/login", "/wall", "/api/v1/agents", "/api/v1/alerts"):
            missing = requests.get(server.url + path, timeout=10)
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found", path
    finally:
        server.stop()
    assert server.stats(agent["agent_id"])["events"] == 1


def test_serve_refuses_unknown_parts_before_opening_anything(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert collector_main(["serve", "--data", str(tmp_path / "absent"), "--parts", "ingest,nope"]) == 2
    assert "unknown app part(s) nope" in capsys.readouterr().err
    assert collector_main(["serve", "--data", str(tmp_path / "absent"), "--parts", "ingest,ingest"]) == 2
    assert "named twice" in capsys.readouterr().err
