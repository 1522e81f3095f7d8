"""The outbox sweep (``alert_retries``) with several owners on one database (issue 16, item 1).

Two alert services on one database stand for two collector processes. Deliveries that one of them
still retries are never taken over by the other while its owner is alive; once the owner stops, the
other takes every one of them over and each reaches the receiver once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.alerts import AlertConfig
from collector.alerts.service import OUTBOX_ROLE
from collector.api import create_app
from simulator.testing.alerts import SealedAgent, WebhookReceiver, install, open_collector, wait_until
from tests.conftest import DATA_DIRS, free_port
from tests.storage_fixtures import BACKENDS, fresh_url


def _config(url: str) -> AlertConfig:
    return AlertConfig(webhook_url=url, webhook_secret="s3cret", wall="off", retry_base_s=0.02, retry_max_s=0.1,
                       retry_attempts=1000)


@pytest.fixture(params=BACKENDS)
def collector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with fresh_url(request.param, tmp_path / "db") as url:
        c = open_collector(tmp_path / "c", None if request.param == "sqlite" else url)
        DATA_DIRS.append(tmp_path / "c")
        yield c
        c.alerts.close()
        c.close()


def test_a_live_owners_deliveries_stay_its_own_and_an_orphans_are_taken_over_once(collector: Any) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"
    first = install(collector, _config(down))
    first.start()
    client = TestClient(create_app(collector), base_url="http://t")
    for i in range(3):
        agent = SealedAgent(collector, f"pc-o{i}")
        body = agent.seal([agent.event("process.start", name="ToDesk.exe", exe="C:\\ToDesk.exe", pid=9,
                                       category="remote_access")])
        assert client.post("/api/v1/batches", content=body,
                           headers={"content-type": "application/json"}).status_code == 200
    wait_until(lambda: first.store.counts().get("pending") == 3, 20, "the three alerts queued")  # passes: <= 1/s
    wait_until(lambda: first.dispatcher.stats()["webhook"]["failed"] >= 6, 20, "failed attempts on the first")
    assert collector.jobs.live_processes(OUTBOX_ROLE) == [first.holder]
    receiver = WebhookReceiver()
    second = collector.build_alert_service(_config(receiver.url))
    try:
        second.start()  # the first owner is alive and retrying: nothing of its is taken
        assert second.sweep_outbox() == {"resumed": 0, "dead": 0}
        time.sleep(0.5)
        assert receiver.received == [] and first.store.counts().get("pending") == 3
        assert sorted(collector.jobs.live_processes(OUTBOX_ROLE)) == sorted([first.holder, second.holder])
        first.close()  # the first process stops; its lease goes with it
        assert collector.jobs.live_processes(OUTBOX_ROLE) == [second.holder]
        assert second.sweep_outbox() == {"resumed": 3, "dead": 0}
        assert second.sweep_outbox() == {"resumed": 0, "dead": 0}, "what this process holds is not taken twice"
        assert second.wait_idle(10)
        assert sorted(b["alert"]["agent_id"] for b in receiver.bodies()) == ["pc-o0", "pc-o1", "pc-o2"]
        assert len({b["delivery_id"] for b in receiver.bodies()}) == 3
        assert second.store.counts().get("sent") == 3 and not second.store.counts().get("pending")
        runs = [r for r in collector.jobs.runs.recent(job="alert_retries") if r["outcome"] == "ok"]
        assert len(runs) >= 2, "each sweep at start is a recorded run"
    finally:
        second.close()
        receiver.close()
