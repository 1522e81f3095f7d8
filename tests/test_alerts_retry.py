"""A webhook receiver that is down gets retries with backoff, then the dead-letter list; nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.alerts import AlertConfig
from collector.alerts.outbox import backoff
from collector.alerts.service import AlertService
from collector.alerts.webhook import SIGNATURE_HEADER, verify
from collector.api import create_app
from simulator.testing.alerts import SealedAgent, WebhookReceiver, install, mount_routes, open_collector, wait_until
from tests.conftest import DATA_DIRS, free_port
from tests.storage_fixtures import BACKENDS, fresh_url

SECRET = "s3cret-for-the-hook"


@dataclass
class Env:
    collector: Any
    client: TestClient
    admin: dict[str, str]

    def install(self, url: str, **options: Any) -> AlertService:
        config = AlertConfig(webhook_url=url, webhook_secret=SECRET, wall="off", retry_base_s=0.02,
                             retry_max_s=0.1, **options)
        return install(self.collector, config)

    def raise_alerts(self, n: int, prefix: str = "pc") -> None:
        for i in range(n):
            agent = SealedAgent(self.collector, f"{prefix}-{i}")
            body = agent.seal([agent.event("process.start", name="ToDesk.exe", exe="C:\\ToDesk.exe", pid=9,
                                           category="remote_access")])
            answer = self.client.post("/api/v1/batches", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 200, answer.text


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    with fresh_url(request.param, tmp_path / "db") as url:
        collector = open_collector(tmp_path / "c", None if request.param == "sqlite" else url)
        DATA_DIRS.append(tmp_path / "c")
        app = create_app(collector)
        mount_routes(app, collector)
        client = TestClient(app, base_url="http://t")
        collector.accounts.add_user("boss", "admin")
        admin = {"Authorization": f"Bearer {collector.accounts.create_token('boss')}"}
        yield Env(collector, client, admin)
        client.close()
        if getattr(collector, "alerts", None) is not None:
            collector.alerts.close()
        collector.close()


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 2.0, 30.0) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_down_receiver_gets_retries_then_dead_letters_then_everything_on_retry(env: Env) -> None:
    port = free_port()  # nothing listens there yet: connection refused
    service = env.install(f"http://127.0.0.1:{port}/hook", retry_attempts=3)
    env.raise_alerts(4)
    wait_until(lambda: service.store.counts().get("dead") == 4, 20, "four dead letters")
    assert service.wait_idle(10)
    alert_ids = sorted(a.id for a in service.store.search())

    answer = env.client.get("/api/v1/alerts/dead-letters", headers=env.admin)
    assert answer.status_code == 200, answer.text
    dead = answer.json()["dead_letters"]
    assert sorted(d["alert_id"] for d in dead) == alert_ids
    assert all(d["attempts"] == 3 and d["channel"] == "webhook" and d["error"] for d in dead)
    assert all(d["payload"]["alert"]["rule"] == "remote_access" for d in dead)
    env.collector.accounts.add_user("sec", "security")
    security = {"Authorization": f"Bearer {env.collector.accounts.create_token('sec')}"}
    assert env.client.get("/api/v1/alerts/dead-letters", headers=security).status_code == 403

    receiver = WebhookReceiver(port=port)
    try:
        for d in dead:
            retried = env.client.post(f"/api/v1/alerts/dead-letters/{d['id']}/retry", headers=env.admin)
            assert retried.status_code == 200 and retried.json()["state"] == "pending"
        wait_until(lambda: len(receiver.received) == 4, 10, "the four alerts after the retry")
        assert service.wait_idle(10)
        assert sorted(b["alert"]["id"] for b in receiver.bodies()) == alert_ids
        assert all(verify(SECRET, r.body, r.headers[SIGNATURE_HEADER]) for r in receiver.received)
        assert service.store.counts().get("sent") == 4 and not service.store.counts().get("dead")
        assert env.client.post(f"/api/v1/alerts/dead-letters/{dead[0]['id']}/retry",
                               headers=env.admin).status_code == 404
    finally:
        receiver.close()


def test_receiver_that_recovers_gets_the_alert_without_a_dead_letter(env: Env) -> None:
    receiver = WebhookReceiver(script=[503, 502])
    try:
        service = env.install(receiver.url, retry_attempts=5)
        env.raise_alerts(1)
        wait_until(lambda: len(receiver.received) == 1, 10, "the alert after two 5xx answers")
        assert service.wait_idle(10)
        assert receiver.attempts == 3
        assert service.store.counts() == {"sent": 1, "alerts": 1}
        ids = {r.json()["delivery_id"] for r in receiver.received}
        assert len(ids) == 1
    finally:
        receiver.close()


def test_a_refusing_receiver_goes_straight_to_the_dead_letters(env: Env) -> None:
    receiver = WebhookReceiver(status=400)
    try:
        service = env.install(receiver.url, retry_attempts=5)
        env.raise_alerts(2)
        wait_until(lambda: service.store.counts().get("dead") == 2, 10, "two dead letters")
        assert receiver.attempts == 2, "a 4xx answer is not retried"
        assert all("answered 400" in d["error"] for d in service.store.dead_letters())
    finally:
        receiver.close()


def test_pending_deliveries_survive_a_restart(env: Env) -> None:
    port = free_port()
    first = env.install(f"http://127.0.0.1:{port}/hook", retry_attempts=50)
    env.raise_alerts(3, "pc-r")
    wait_until(lambda: first.dispatcher.stats()["webhook"]["failed"] >= 3, 10, "first failed attempts")
    first.close()  # the collector stops while the receiver is down
    assert first.store.counts().get("pending") == 3

    receiver = WebhookReceiver(port=port)
    try:
        second = env.install(receiver.url)
        second.start()
        wait_until(lambda: len(receiver.received) == 3, 10, "the pending alerts after the restart")
        assert sorted(b["alert"]["agent_id"] for b in receiver.bodies()) == ["pc-r-0", "pc-r-1", "pc-r-2"]
        assert second.wait_idle(10) and second.store.counts().get("sent") == 3
    finally:
        receiver.close()
