"""Enrollment identities: full-match ids, look-alikes refused, no personal numbers in ids or metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent import wire
from collector.cli import main as collector_main
from collector.service import Collector
from tests.conftest import DATA_DIRS

RAW_ID = "11010519491231002X"


@pytest.fixture()
def harness(tmp_path: Path) -> Iterator[tuple[Collector, TestClient]]:
    data = tmp_path / "data"
    assert collector_main(["init", "--data", str(data)]) == 0
    DATA_DIRS.append(data)
    collector = Collector.open(data)
    from collector.api import create_app

    yield collector, TestClient(create_app(collector), base_url="http://t")


def _enroll(harness: tuple[Collector, TestClient], name: str, **extra: str) -> tuple[int, dict]:
    collector, client = harness
    token = collector.enrollment.create_token("cs-a")
    key = wire.public_key_b64(wire.new_agent_key().public_key())
    answer = client.post("/api/v1/enroll", json={"token": token, "public_key": key, "name": name, **extra})
    return answer.status_code, answer.json()


@pytest.mark.parametrize("lookalike", ["pc-a1\n", "PC-A1", "ｐｃ-ａ１", "pc-a1\u200b", "Pc-A1"])
def test_lookalikes_of_an_enrolled_id_are_refused(harness: tuple[Collector, TestClient], lookalike: str) -> None:
    assert _enroll(harness, "pc-a1")[0] == 200
    status, body = _enroll(harness, lookalike)
    assert 400 <= status < 500, body
    assert "agent_id_lookalike" in str(body) or "bad_name" in str(body)
    ids = [a["agent_id"] for a in harness[0].store.list_agents()]
    assert ids == ["pc-a1"]


def test_id_carrying_a_national_id_is_refused(harness: tuple[Collector, TestClient]) -> None:
    status, body = _enroll(harness, f"pc-{RAW_ID}")
    assert status == 400 and "name_personal" in str(body)
    status, body = _enroll(harness, "pc-13812345678")
    assert status == 400 and "name_personal" in str(body)


def test_hostname_and_user_are_masked_before_storage(harness: tuple[Collector, TestClient]) -> None:
    status, _ = _enroll(harness, "pc-b2", hostname=f"host {RAW_ID}", user=f"u {RAW_ID}")
    assert status == 200
    agent = harness[0].store.get_agent("pc-b2")
    assert agent is not None
    assert RAW_ID not in str(agent["hostname"]) and RAW_ID not in str(agent["user"])
    assert RAW_ID[-4:] in str(agent["hostname"])
