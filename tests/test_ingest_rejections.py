"""Bad input at the ingest door: each refusal has its code and counter, and nothing partial is stored."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from collector.cli import main as collector_main
from collector.service import Collector
from contract import wire
from contract.schema import format_ts
from tests.answer_fixtures import verified_receipt
from tests.conftest import DATA_DIRS, RAW_IDS
from tests.storage_fixtures import BACKENDS, fresh_url


class Harness:
    def __init__(self, data: Path, db_url: str | None = None) -> None:
        assert collector_main(["init", "--data", str(data), *(["--db", db_url] if db_url else [])]) == 0
        DATA_DIRS.append(data)
        self.collector = Collector.open(data)
        from collector.api import create_app

        self.app = create_app(self.collector)
        self.client = TestClient(self.app, base_url="http://t")
        self.agent_key = wire.new_agent_key()
        token = self.collector.enrollment.create_token("cs-a")
        answer = self.client.post("/api/v1/enroll", json={
            "token": token, "public_key": wire.public_key_b64(self.agent_key.public_key()), "name": "pc-1"})
        assert answer.status_code == 200, answer.text
        self.collector_key = wire.load_x25519_public(answer.json()["collector_key"])
        self.prev = wire.GENESIS_HASH
        self.seq = 0

    def events(self, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            self.seq += 1
            out.append({"schema": 1, "agent_id": "pc-1", "seq": self.seq, "ts": format_ts(datetime.now(UTC)),
                        "kind": "app.focus", "app": "chrome.exe", "title": f"客户 {RAW_IDS[0]}", "pid": 1})
        return out

    def seal(self, batch_seq: int, events: list[Any], sealed_at: str | None = None,
             agent_key: Any = None, agent_id: str = "pc-1") -> bytes:
        body, digest = wire.seal_batch(agent_id=agent_id, batch_seq=batch_seq, prev_batch_hash=self.prev,
                                       events=events, sealed_at=sealed_at or format_ts(datetime.now(UTC)),
                                       collector_key=self.collector_key, agent_key=agent_key or self.agent_key)
        self.prev = digest
        return body

    def post(self, body: bytes) -> httpx.Response:
        return self.client.post("/api/v1/batches", content=body, headers={"content-type": "application/json"})

    def stats(self) -> dict[str, Any]:
        return self.collector.store.stats()


@pytest.fixture(params=BACKENDS)
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with fresh_url(request.param, tmp_path / "db") as url:
        harness = Harness(tmp_path / "c", None if request.param == "sqlite" else url)
        yield harness
        harness.client.close()
        harness.collector.close()


def _code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


def test_good_batch_then_resend_is_a_duplicate(h: Harness) -> None:
    body = h.seal(1, h.events(10))
    first = h.post(body)
    assert first.status_code == 200 and first.json()["stored"] == 10
    keys = h.collector.signer.public_keys()
    assert verified_receipt(first.json(), body, keys).outcome == "stored"
    again = h.post(body)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert verified_receipt(again.json(), body, keys).outcome == "duplicate"
    assert h.stats()["events"] == 10
    stored = h.collector.store.timeline("pc-1", datetime.now(h.collector.settings.tz).date().isoformat())
    assert stored and RAW_IDS[0] not in json.dumps(stored, ensure_ascii=False)
    assert stored[0]["title"].endswith(RAW_IDS[0][-4:])


def test_tampered_ciphertext_is_refused(h: Harness) -> None:
    obj = json.loads(h.seal(1, h.events(5)))
    ct = bytearray(base64.b64decode(obj["ct"]))
    ct[-20] ^= 0xFF
    obj["ct"] = base64.b64encode(bytes(ct)).decode()
    resp = h.post(json.dumps(obj).encode())
    assert resp.status_code == 401 and _code(resp) == "bad_signature"
    assert h.stats()["events"] == 0 and h.stats()["rejections"]["bad_signature"] == 1


def test_forged_signature_and_unknown_agent(h: Harness) -> None:
    forged = h.seal(1, h.events(3), agent_key=wire.new_agent_key())
    resp = h.post(forged)
    assert resp.status_code == 401 and _code(resp) == "bad_signature"
    receipt = verified_receipt(resp.json(), forged, h.collector.signer.public_keys())
    assert (receipt.outcome, receipt.code) == ("refused", "bad_signature")  # what lets an agent park it
    resp = h.post(h.seal(1, h.events(3), agent_id="pc-ghost"))
    assert resp.status_code == 401 and _code(resp) == "unknown_agent"
    assert h.stats()["events"] == 0


def test_same_batch_number_with_other_content_is_a_conflict(h: Harness) -> None:
    assert h.post(h.seal(1, h.events(3))).status_code == 200
    h.prev = wire.GENESIS_HASH
    resp = h.post(h.seal(1, h.events(3)))
    assert resp.status_code == 409 and _code(resp) == "batch_conflict"
    assert h.stats()["events"] == 3


def test_revocation_elsewhere_stops_the_next_batch_though_the_key_was_kept(h: Harness) -> None:
    assert h.post(h.seal(1, h.events(3))).status_code == 200  # this process now keeps pc-1's key
    h.collector.store.revoke_agent("pc-1", time.time())  # as another collector would: this one is not told
    resp = h.post(h.seal(2, h.events(4)))
    assert resp.status_code == 403 and _code(resp) == "revoked_agent"
    assert h.stats()["events"] == 3 and h.stats()["rejections"]["revoked_agent"] == 1
    again = h.post(h.seal(3, h.events(2)))  # and from then on before opening anything
    assert again.status_code == 403 and _code(again) == "revoked_agent" and h.stats()["events"] == 3


def test_a_revoked_agent_resending_a_stored_batch_is_refused_not_answered_duplicate(h: Harness) -> None:
    body = h.seal(1, h.events(3))
    assert h.post(body).status_code == 200  # stored, and pc-1's key kept
    h.collector.store.revoke_agent("pc-1", time.time())  # through another collector
    resp = h.post(body)
    assert resp.status_code == 403 and _code(resp) == "revoked_agent"  # as every other collector answers


def test_a_batch_stored_by_another_collector_is_a_duplicate_here(h: Harness) -> None:
    other = Collector.open(h.collector.settings.data_dir)  # a second service on the same database
    try:
        first, second = h.seal(1, h.events(3)), h.seal(2, h.events(3))
        assert h.post(first).status_code == 200  # this process has stored batch 1 of pc-1
        assert other.ingest.handle(second).status == "stored"  # batch 2 lands through the other one
        again = h.post(second)  # newer than any batch this process stored: found by the write itself
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        assert other.ingest.handle(first).status == "duplicate"
        h.prev = wire.GENESIS_HASH
        clash = h.post(h.seal(2, h.events(5)))
        assert clash.status_code == 409 and _code(clash) == "batch_conflict"
        assert h.stats()["events"] == 6
    finally:
        other.close()


@pytest.mark.parametrize("delta", [timedelta(days=45), timedelta(hours=-2)])
def test_timestamps_outside_the_window(h: Harness, delta: timedelta) -> None:
    sealed_at = format_ts(datetime.now(UTC) - delta)
    resp = h.post(h.seal(1, h.events(3), sealed_at=sealed_at))
    assert resp.status_code == 400 and _code(resp) == "timestamp_out_of_window"
    assert h.stats()["events"] == 0


def test_oversize_body_is_refused_before_reading_it_all(h: Harness) -> None:
    limit = h.collector.settings.max_body_bytes
    resp = h.post(b"{" + b" " * (limit + 10) + b"}")
    assert resp.status_code == 413 and _code(resp) == "too_large"
    assert h.stats()["rejections"]["too_large"] == 1


@pytest.mark.parametrize("body", [b"", b"\x00\xff garbage", b"[1,2]", b'{"v":1}', b"{" * 5000])
def test_garbage_bodies(h: Harness, body: bytes) -> None:
    resp = h.post(body)
    assert resp.status_code == 400 and _code(resp) == "malformed"
    assert h.stats()["events"] == 0


def test_truncated_body(h: Harness) -> None:
    body = h.seal(1, h.events(20))
    resp = h.post(body[: len(body) // 2])
    assert resp.status_code == 400 and _code(resp) == "malformed"
    assert h.stats()["events"] == 0
    assert h.post(body).status_code == 200  # the intact batch is still accepted afterwards


def test_invalid_events_are_quarantined_masked_and_valid_ones_kept(h: Harness) -> None:
    events: list[Any] = h.events(3)
    h.seq += 1
    events.append({"schema": 1, "agent_id": "pc-1", "seq": h.seq, "ts": "2026-11-24T00:00:00.000Z",
                   "kind": f"exfil.{RAW_IDS[1]}", "note": RAW_IDS[3]})
    events.append("a bare string line")
    h.seq += 1
    future = format_ts(datetime.now(UTC) + timedelta(days=2))
    events.append({"schema": 1, "agent_id": "pc-1", "seq": h.seq, "ts": future, "kind": "agent.stop",
                   "reason": "x"})
    resp = h.post(h.seal(1, events))
    assert resp.status_code == 200 and resp.json()["stored"] == 3 and resp.json()["quarantined"] == 3
    rows = h.collector.store.quarantined()
    reasons = " ".join(r["reason"] for r in rows)
    assert "unknown kind" in reasons and "in the future" in reasons and "JSON object" in reasons
    dump = json.dumps(rows, ensure_ascii=False)
    assert RAW_IDS[1] not in dump and RAW_IDS[3] not in dump


def test_gaps_and_chain_breaks_are_recorded(h: Harness) -> None:
    assert h.post(h.seal(1, h.events(5))).status_code == 200
    h.seq += 10  # ten events lost on the PC
    h.prev = "f" * 64  # and the previous batch was altered
    assert h.post(h.seal(2, h.events(5))).status_code == 200
    h.post(h.seal(5, h.events(1)))  # batches 3 and 4 never arrive
    kinds = {r["kind"] for r in h.collector.store.integrity_records("pc-1")}
    assert kinds == {"seq_gap", "chain_break", "batch_gap"}
    gaps = h.stats()["gaps"]
    assert gaps["seq_gap"] == 1 and gaps["chain_break"] == 1 and gaps["batch_gap"] == 1


def test_metrics_expose_batches_events_rejections_latency(h: Harness) -> None:
    h.post(h.seal(1, h.events(4)))
    h.post(b"junk")
    text = h.client.get("/metrics").text
    assert 'seatguard_batches_total{outcome="stored"} 1.0' in text
    assert "seatguard_events_total 4.0" in text
    assert 'seatguard_rejections_total{reason="malformed"} 1.0' in text
    assert "seatguard_ingest_seconds_count 1.0" in text


def test_query_api_needs_a_token_and_enforces_team_scope(h: Harness) -> None:
    h.post(h.seal(1, h.events(2)))
    assert h.client.get("/api/v1/agents").status_code == 401
    accounts = h.collector.accounts
    accounts.add_user("mgr-b", "manager", ["cs-b"])
    accounts.add_user("sec", "security")
    mgr = {"Authorization": f"Bearer {accounts.create_token('mgr-b')}"}
    sec = {"Authorization": f"Bearer {accounts.create_token('sec')}"}
    day = datetime.now(h.collector.settings.tz).date().isoformat()
    assert h.client.get("/api/v1/agents", headers=mgr).json()["agents"] == []
    refused = h.client.get(f"/api/v1/agents/pc-1/timeline?date={day}", headers=mgr)
    assert refused.status_code == 403 and _code(refused) == "forbidden"
    ok = h.client.get(f"/api/v1/agents/pc-1/timeline?date={day}", headers=sec)
    assert ok.status_code == 200 and len(ok.json()["events"]) == 2
    audit = h.collector.access.audit_log()
    assert [(a["actor"], a["allowed"]) for a in audit[:2]] == [("sec", True), ("mgr-b", False)]
    time.sleep(0)  # keep the audit ordering assertion above independent of clock resolution


def test_retention_purges_old_events_and_keeps_recent_ones(h: Harness) -> None:
    # events still inside the retention period when they arrive (older ones are quarantined at ingest),
    # purged once it has passed: the purge runs 20 days later
    days = h.collector.settings.retention_days
    then = datetime.now(h.collector.settings.tz) - timedelta(days=days - 10)
    old = h.events(3)
    for e in old:
        e["ts"] = format_ts(then)
    h.post(h.seal(1, old + h.events(2)))
    assert h.stats()["events"] == 5
    out = h.collector.purge(datetime.now(h.collector.settings.tz) + timedelta(days=20))
    assert out["removed"]["events"] == 3
    assert h.stats()["events"] == 2
    assert h.collector.store.timeline("pc-1", then.date().isoformat()) == []
