"""Only the real collector can make an agent forget a batch or change its policy (issue 17).

Real processes on loopback: a real collector, a stand-in server the person at the PC points their agent
at (tests.answer_fixtures.StandIn), and the real agent (``run``) or its real spool and uploader.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from agent.config import load_config
from agent.identity import load_identity
from agent.pipeline import open_spool
from agent.replay import replay_file
from agent.transport import HttpTransport
from agent.trust import Trust
from agent.uploader import Backoff, Uploader
from collector.keys import load_signing_key
from contract import wire
from contract.errors import ReceiptError
from contract.key_set import parse_keys
from contract.receipts import envelope_hash, key_id, sign_receipt, verify_receipt
from contract.signed_policy import accept_policy, policy_hash, sign_policy
from tests.answer_fixtures import FAKES, StandIn, strip_trust
from tests.conftest import (
    AGENT,
    COLLECTOR,
    FAST_AGENT_ENV,
    CollectorProcess,
    run_cli,
    stored_markers,
    wait_for,
    write_events,
)


def _record(home: Path) -> dict[str, Any]:
    return dict(json.loads((home / "enrollment.json").read_bytes()))


def _write_record(home: Path, record: dict[str, Any]) -> None:
    (home / "enrollment.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


def _status(home: Path) -> dict[str, Any]:
    return dict(json.loads(run_cli(AGENT, "status", "--home", str(home), "--json")))


def _events(data: Path, agent_id: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(data / "seatguard.db")
    try:
        rows = conn.execute("SELECT data FROM events WHERE agent_id = ? ORDER BY seq", (agent_id,)).fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


def _integrity(data: Path, agent_id: str) -> list[tuple[str, dict[str, Any]]]:
    conn = sqlite3.connect(data / "seatguard.db")
    try:
        rows = conn.execute("SELECT kind, detail FROM integrity WHERE agent_id = ? ORDER BY id", (agent_id,))
        return [(str(k), json.loads(d)) for k, d in rows]
    finally:
        conn.close()


def _admin(collector: CollectorProcess) -> dict[str, str]:
    run_cli(COLLECTOR, "user", "add", "--data", str(collector.data), "--name", "boss", "--role", "admin")
    token = run_cli(COLLECTOR, "token", "create", "--data", str(collector.data), "--user", "boss").strip()
    return {"Authorization": f"Bearer {token}"}


def test_stand_in_server_cannot_make_batches_vanish_or_rewrite_the_policy(collector: CollectorProcess,
                                                                          tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-standin")
    before = _record(home)
    env = {**FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_AGE_S": "0.2"}
    with StandIn(collector.url, "rewrite") as fake:
        _write_record(home, {**before, "collector_url": fake.url})  # the person edits their own agent home
        agent = subprocess.Popen([AGENT, "run", "--home", str(home), "--no-sensors", "--heartbeat-s", "0.3"],
                                 env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                 stderr=(tmp_path / "agent.log").open("wb"))
        try:
            # 1. a forwarding proxy rewrites the signed policy in genuine answers: batches arrive, the policy is refused
            wait_for(lambda: fake.rewritten >= 3, 60, what="three rewritten policies")
            assert _record(home)["policy"] == before["policy"], "the rewritten policy was not applied"
            with fake.lock:
                fake.mode = FAKES[0]
            stored_then = len(_events(collector.data, "pc-standin"))
            assert stored_then > 0
            # 2. a stand-in answers 2xx itself: missing, forged, replayed and relabelled receipts
            for mode in FAKES:
                with fake.lock:
                    fake.mode, start = mode, fake.faked
                wait_for(lambda n=start: fake.faked >= n + 3, 60, what=f"three {mode} answers")
            status = _status(home)
            assert status["spool"]["depth_batches"] >= 1, "the agent kept every batch the stand-in 'stored'"
            assert status["spool"]["unsigned_answers"] >= fake.faked
            assert len(_events(collector.data, "pc-standin")) == stored_then
            assert _record(home)["policy"] == before["policy"]
            # 3. the stand-in is gone (transparent again): everything reaches the real collector
            with fake.lock:
                fake.mode = "transparent"
                refused = fake.faked + fake.rewritten

            def reported() -> bool:
                beats = [e for e in _events(collector.data, "pc-standin") if e["kind"] == "agent.heartbeat"]
                return bool(beats) and beats[-1].get("unsigned_answers") == refused

            wait_for(reported, 60, what="a heartbeat reporting every refused answer")
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
    events = _events(collector.data, "pc-standin")
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)) and events[-1]["kind"] == "agent.stop", "nothing lost"
    assert _status(home)["spool"]["depth_batches"] == 0 and _status(home)["spool"]["unsigned_answers"] == refused
    beats = [e for e in events if e["kind"] == "agent.heartbeat"]
    assert {b["policy_version"] for b in beats} == {before["policy"]["version"]}
    assert {b["policy_hash"][-4:] for b in beats} == {policy_hash(before["policy"])[-4:]}  # masked, tail kept
    findings = _integrity(collector.data, "pc-standin")
    assert sum(d["count"] for k, d in findings if k == "unsigned_answers") == refused
    assert not [k for k, _ in findings if k in ("policy_mismatch", "seq_gap", "batch_gap", "chain_break")]
    # the edited collector URL was reported at the next contact with the real collector, once
    assert {b["collector_changes"] for b in beats} == {1}
    assert [d["count"] for k, d in findings if k == "collector_changed"] == [1]
    admin = _admin(collector)

    def alerted() -> list[dict[str, Any]]:
        alerts = requests.get(collector.url + "/api/v1/alerts", headers=admin, timeout=10).json()["alerts"]
        return [a for a in alerts if a["agent_id"] == "pc-standin" and a["rule"] == "forged_answers"]

    assert wait_for(alerted, 30, what="a forged_answers alert")[0]["severity"] == "high"
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    report = json.loads(run_cli(COLLECTOR, "report", "--data", str(collector.data), "--date", day, "--format", "json"))
    finding = next(f for f in report["findings"] if f["agent_id"] == "pc-standin")
    assert any(f"refused {refused} answers not signed by the collector" in r for r in finding["reasons"])


def test_proxy_that_drops_batches_and_fakes_answers_loses_nothing(collector: CollectorProcess,
                                                                  tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-proxy")
    _write_record(home, strip_trust(_record(home)))  # enrolled before signed answers: no signing key yet
    identity = load_identity(home)
    assert identity.signing_keys == {}
    spool = open_spool(home, load_config(home))
    replay_file(identity, spool, write_events(tmp_path / "day.jsonl", 400), 25)
    assert spool.stats()["depth_batches"] == 16
    try:
        with StandIn(collector.url, "missing") as proxy:
            uploader = Uploader(spool, HttpTransport(proxy.url, timeout_s=10), Trust(home, identity),
                                Backoff(0.01, 0.02))
            for _ in range(3):  # the stand-in answers the upgrade request with its own key and no valid proof
                uploader.step()
            assert not uploader.trust.ready and "signing_keys" not in _record(home)
            assert proxy.key_requests == 3 and spool.stats()["unsigned_answers"] == 3
            with proxy.lock:
                proxy.mode = "drop_odd"  # forwards the upgrade and every other batch, fakes the rest
            wait_for(lambda: uploader.step() is not None and spool.stats()["depth_batches"] <= 4, 60,
                     interval=0.0, what="12 batches through the lossy proxy")
            with proxy.lock:
                proxy.mode = "forged"  # now it swallows everything
            for _ in range(4):
                uploader.step()
            assert spool.stats()["depth_batches"] == 4
            faked = proxy.faked
        assert faked == 11 + 4 and spool.stats()["unsigned_answers"] == 3 + faked  # batches 2-12 dropped once
        # the proxy is gone: the agent reaches the collector itself
        uploader.transport = HttpTransport(collector.url, timeout_s=10)
        stop = threading.Event()
        threading.Timer(60, stop.set).start()
        assert uploader.drain(stop)
        stop.set()
    finally:
        spool.close()
    assert sorted(stored_markers(collector.data, "pc-proxy")) == list(range(400)), "every event, once"
    kinds = [k for k, _ in _integrity(collector.data, "pc-proxy")]
    assert not [k for k in kinds if k in ("seq_gap", "batch_gap", "chain_break", "duplicate_seq")]
    real = key_id(load_signing_key(collector.data).public_key())
    assert list(_record(home)["signing_keys"]) == [real], "the upgrade learned the collector's own key"


def test_receipts_bind_agent_batch_envelope_and_outcome() -> None:
    key, other = load_pair(), load_pair()
    keys = {key_id(key.public_key()): key.public_key()}
    body = b'{"v":1,"agent_id":"pc-1","batch_seq":7}'
    good = sign_receipt(key, kind="batch", agent_id="pc-1", ref=7, digest=envelope_hash(body), outcome="stored")
    assert verify_receipt(good, keys, kind="batch", agent_id="pc-1", ref=7, digest=envelope_hash(body)).outcome == \
        "stored"
    wrong: list[tuple[dict[str, Any] | None, str]] = [
        (None, "missing"),
        ({**good, "batch_seq": 8}, "foreign"),
        ({**good, "agent_id": "pc-2"}, "foreign"),
        ({**good, "envelope_hash": envelope_hash(body + b" ")}, "foreign"),
        ({**good, "outcome": "duplicate"}, "bad_signature"),
        ({**good, "code": "x"}, "bad_signature"),
        ({**good, "batch_seq": "7"}, "malformed"),
        ({**good, "kind": "blob"}, "malformed"),
        (sign_receipt(other, kind="batch", agent_id="pc-1", ref=7, digest=envelope_hash(body), outcome="stored"),
         "unknown_key"),
        ({**sign_receipt(other, kind="batch", agent_id="pc-1", ref=7, digest=envelope_hash(body),
                         outcome="stored"), "key_id": good["key_id"]}, "bad_signature"),
    ]
    for receipt, code in wrong:
        with pytest.raises(ReceiptError) as err:
            verify_receipt(receipt, keys, kind="batch", agent_id="pc-1", ref=7, digest=envelope_hash(body))
        assert err.value.code == code, (receipt, err.value)


def test_policies_are_signed_addressed_and_never_rolled_back() -> None:
    key = load_pair()
    keys = parse_keys({key_id(key.public_key()): wire.public_key_b64(key.public_key())})
    v2 = accept_policy(sign_policy(key, "pc-1", {"version": 2, "idle_threshold_s": 300}), keys, "pc-1", None)
    assert v2 is not None and v2.version == 2 and v2.policy["idle_threshold_s"] == 300
    assert accept_policy(sign_policy(key, "pc-1", {"version": 2, "idle_threshold_s": 300}), keys, "pc-1", v2) is None
    for signed, code in [
        (sign_policy(key, "pc-1", {"version": 1, "idle_threshold_s": 60}), "rollback"),
        (sign_policy(key, "pc-9", {"version": 3}), "foreign"),
        ({**sign_policy(key, "pc-1", {"version": 3}), "text": '{"version":3,"watched_folders":[]}'},
         "bad_signature"),
        ({**sign_policy(key, "pc-1", {"version": 3}), "version": 4}, "bad_signature"),
        (sign_policy(load_pair(), "pc-1", {"version": 3}), "unknown_key"),
        ({"version": 3}, "malformed"),
    ]:
        with pytest.raises(ReceiptError) as err:
            accept_policy(signed, keys, "pc-1", v2)
        assert err.value.code == code, (signed, err.value)


def load_pair() -> Any:
    return wire.new_agent_key()
