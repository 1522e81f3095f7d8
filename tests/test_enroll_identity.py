"""Enrollment identities: full-match ids, look-alikes refused, no personal numbers in ids or metadata."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.cli import main as collector_main
from collector.errors import EnrollmentRefused
from collector.service import Collector
from contract import wire
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


def _enroll_with(harness: tuple[Collector, TestClient], token: str, name: str) -> tuple[int, dict]:
    key = wire.public_key_b64(wire.new_agent_key().public_key())
    answer = harness[1].post("/api/v1/enroll", json={"token": token, "public_key": key, "name": name})
    return answer.status_code, answer.json()


def test_an_id_named_on_the_token_is_binding(harness: tuple[Collector, TestClient], tmp_path: Path) -> None:
    collector = harness[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert collector_main(["enroll-token", "--data", str(collector.settings.data_dir), "--team", "cs-a",
                               "--name", "pc-lin"]) == 0
    token = out.getvalue().strip()
    status, body = _enroll_with(harness, token, "pc-someone-else")
    assert status == 403 and body["error"]["code"] == "name_not_on_token"
    assert collector.store.get_agent("pc-someone-else") is None
    status, body = _enroll_with(harness, token, "pc-lin")  # the refusal did not use the token up
    assert status == 200 and body["agent_id"] == "pc-lin"
    with pytest.raises(EnrollmentRefused) as taken:  # a token naming an enrolled id (or a look-alike) is refused
        collector.enrollment.create_token("cs-a", name="PC-LIN")
    assert taken.value.code == "agent_id_taken"
    with pytest.raises(EnrollmentRefused) as personal:
        collector.enrollment.create_token("cs-a", name=f"pc-{RAW_ID}")
    assert personal.value.code == "name_personal"


def test_lookalikes_enrolling_at_once_get_one_id(harness: tuple[Collector, TestClient]) -> None:
    """The unique key decides between concurrent look-alikes: exactly one enrolls, the others get a code."""
    collector = harness[0]
    names = ["pc-c3", "PC-C3", "Pc-c3", "pC-C3"]
    tokens = [collector.enrollment.create_token("cs-a") for _ in names]
    barrier = threading.Barrier(len(names))
    outcomes: list[str] = []

    def enroll(token: str, name: str) -> None:
        barrier.wait()
        try:
            collector.enrollment.enroll({"token": token, "name": name,
                                         "public_key": wire.public_key_b64(wire.new_agent_key().public_key())})
            outcomes.append("enrolled")
        except EnrollmentRefused as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=enroll, args=pair) for pair in zip(tokens, names, strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(outcomes) == ["agent_id_lookalike"] * 3 + ["enrolled"]
    assert len([a for a in collector.store.list_agents() if a["agent_id"].lower() == "pc-c3"]) == 1


def test_agent_start_hostname_and_user_are_masked_in_storage(harness: tuple[Collector, TestClient]) -> None:
    from simulator.testing.alerts import SealedAgent

    collector, client = harness
    pc = SealedAgent(collector, "pc-d4")
    start = pc.event("agent.start", version="1", os="linux", hostname=f"DESKTOP-{RAW_ID}", user="u_13800138000")
    answer = client.post("/api/v1/batches", content=pc.seal([start]))
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    (stored,) = collector.store.timeline("pc-d4", datetime.now(collector.settings.tz).date().isoformat())
    assert RAW_ID not in str(stored) and "13800138000" not in str(stored)
    assert stored["hostname"].endswith(RAW_ID[-4:]) and stored["user"].endswith("8000")
