"""Rotating the collector's keys without losing anything (issue 17 item 4).

Real processes on loopback: a real ``seatguard-collector serve`` whose keys are rotated with the real
``seatguard-collector keys rotate``, real agent spools and uploaders, and stand-in servers the person at
the PC could point their agent at (tests.answer_fixtures.StandIn).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.config import load_config
from agent.identity import Identity, load_identity
from agent.pipeline import BatchBuilder, open_spool
from agent.replay import replay_file
from agent.spool import Spool
from agent.transport import HttpTransport, Reply
from agent.trust import Trust
from agent.uploader import Backoff, Uploader
from collector.errors import ConfigError
from collector.keys import KeyRing, load_key, load_signing_key, rotate
from contract import wire
from contract.errors import ReceiptError
from contract.key_set import sign_key_set, verify_key_set
from contract.receipts import envelope_hash, key_id, sign_receipt
from tests.answer_fixtures import StandIn
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
from tests.test_screenshots import tiny_png

WINDOW_S = 30.0


class Recording:
    """The agent's real transport, keeping every answer (to check which key signed the receipts)."""

    def __init__(self, url: str) -> None:
        self.inner = HttpTransport(url, timeout_s=10)
        self.replies: list[tuple[str, Reply]] = []

    def post(self, path: str, body: bytes) -> Reply:
        reply = self.inner.post(path, body)
        self.replies.append((path, reply))
        return reply

    def close(self) -> None:
        self.inner.close()


class Meddler(StandIn):
    """A forwarding proxy that tampers with key sets and receipts.

    * ``inject``: forwards, adds a key set of its own (its own signing and HPKE keys), signed by its key;
    * ``swap``: forwards, puts its own HPKE key into the collector's genuine key set;
    * ``old_key``: answers batches itself with receipts signed by the collector's *rotated-out* key;
    * ``forge_blob``: answers blobs itself with a receipt signed by its own key.
    """

    def __init__(self, backend: str, mode: str = "transparent") -> None:
        super().__init__(backend, mode)
        self.hpke = wire.new_collector_key()
        self.old_key: Any = None
        self.meddled = 0

    def __enter__(self) -> Meddler:
        super().__enter__()
        return self

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            mode = self.mode
        own_hpke = wire.public_key_b64(self.hpke.public_key())
        if mode == "old_key" and path == "/api/v1/batches":
            env = json.loads(body)
            with self.lock:
                self.meddled += 1
            return 200, {"status": "stored", "receipt": sign_receipt(
                self.old_key, kind="batch", agent_id=env["agent_id"], ref=env["batch_seq"],
                digest=envelope_hash(body), outcome="stored")}
        if mode == "forge_blob" and path == "/api/v1/blobs":
            env = json.loads(body)
            with self.lock:
                self.meddled += 1
            return 200, {"status": "stored", "blob_id": env["blob_id"], "receipt": sign_receipt(
                self.key, kind="blob", agent_id=env["agent_id"], ref=env["blob_id"], digest=envelope_hash(body),
                outcome="stored")}
        status, answer = self._forward(path, body)
        if path != "/api/v1/batches" or status != 200:
            return status, answer
        if mode == "inject":
            own = {key_id(self.key.public_key()): wire.public_key_b64(self.key.public_key())}
            answer["key_set"] = sign_key_set(self.key, serial=99, signing_keys=own, retire={}, hpke_key=own_hpke,
                                             seal_from="2020-01-01T00:00:00Z")
        elif mode == "swap" and isinstance(answer.get("key_set"), dict):
            answer["key_set"] = {**answer["key_set"], "hpke_key": own_hpke}
        else:
            return status, answer
        with self.lock:
            self.meddled += 1
        return status, answer


def _rotate(collector: CollectorProcess, window_s: float = WINDOW_S, seal_after_s: float = 0.0) -> dict[str, Any]:
    """``keys rotate`` on the data folder, then the collector restarted (as the README tells operators)."""
    collector.stop()
    out = json.loads(run_cli(COLLECTOR, "keys", "rotate", "--data", str(collector.data),
                             "--window-days", repr(window_s / 86400), "--seal-after-hours", repr(seal_after_s / 3600)))
    collector.start()
    return dict(out)


def _keys_list(collector: CollectorProcess) -> dict[str, Any]:
    return dict(json.loads(run_cli(COLLECTOR, "keys", "list", "--data", str(collector.data))))


def _until(iso_time: str) -> None:
    """Sleep past ``iso_time`` (the end of a rotation window)."""
    end = datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()
    time.sleep(max(0.0, end - time.time() + 0.5))


class Pc:
    """One enrolled PC: its identity, spool, trust and real uploader."""

    def __init__(self, collector: CollectorProcess, tmp: Path, name: str) -> None:
        self.home = tmp / name
        self.tmp = tmp
        self.name = name
        collector.enroll(self.home, name)
        self.identity: Identity = load_identity(self.home)
        self.spool: Spool = open_spool(self.home, load_config(self.home))
        self.transport = Recording(collector.url)
        self.uploader = Uploader(self.spool, self.transport, Trust(self.home, self.identity), Backoff(0.01, 0.02))
        self.lines = 0

    def spool_events(self, n: int) -> None:
        path = write_events(self.tmp / f"{self.name}-{self.lines}.jsonl", n, start_line=self.lines)
        replay_file(self.identity, self.spool, path, 25)
        self.lines += n

    def steps(self, n: int) -> None:
        for _ in range(n):
            assert self.uploader.step() == 0.0, self.spool.stats()["last_upload_status"]

    def drain(self) -> None:
        stop = threading.Event()
        timer = threading.Timer(60, stop.set)
        timer.start()
        try:
            assert self.uploader.drain(stop), self.spool.stats()["last_upload_status"]
        finally:
            timer.cancel()

    def record(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "enrollment.json").read_bytes()))

    def status(self) -> dict[str, Any]:
        return dict(json.loads(run_cli(AGENT, "status", "--home", str(self.home), "--json")))

    def close(self) -> None:
        self.spool.close()
        self.transport.close()


def _opens_with(body: bytes, key: Any) -> bool:
    try:
        wire.open_envelope(wire.parse_envelope(body), key)
    except Exception:  # WireError: sealed to another key
        return False
    return True


def _admin(collector: CollectorProcess) -> dict[str, str]:
    run_cli(COLLECTOR, "user", "add", "--data", str(collector.data), "--name", "keys-admin", "--role", "admin")
    token = run_cli(COLLECTOR, "token", "create", "--data", str(collector.data), "--user", "keys-admin").strip()
    return {"Authorization": f"Bearer {token}"}


def _receipt_keys(pc: Pc, since: int) -> set[str]:
    return {str(r.body["receipt"]["key_id"]) for path, r in pc.transport.replies[since:]
            if path == "/api/v1/batches" and isinstance(r.body.get("receipt"), dict)}


def test_rotation_without_loss(collector: CollectorProcess, tmp_path: Path) -> None:
    data = collector.data
    old_sign, old_hpke = load_signing_key(data), load_key(data)
    old_id = key_id(old_sign.public_key())
    online, offline = Pc(collector, tmp_path, "pc-online"), Pc(collector, tmp_path, "pc-offline")
    try:
        before_png, late_png = tiny_png(b"BEFORE-ROTATION"), tiny_png(b"SPOOLED-BEFORE-ROTATION")
        online.spool_events(200)  # 8 batches sealed to the old HPKE key
        offline.spool_events(100)
        BatchBuilder(online.identity, online.spool, load_config(online.home)).emit_blob("shot-before", before_png)
        BatchBuilder(offline.identity, offline.spool, load_config(offline.home)).emit_blob("shot-late", late_png)
        online.steps(2)
        assert _receipt_keys(online, 0) == {old_id}
        assert "key_set" not in online.transport.replies[-1][1].body, "no rotation, nothing announced"

        rot = _rotate(collector)
        new_hpke, new_sign = load_key(data, 2), load_signing_key(data, 2)
        new_id = key_id(new_sign.public_key())
        assert rot["generation"] == 2 and new_id != old_id
        for name in rot["new_files"]:
            assert (data / name).stat().st_mode & 0o777 == 0o600
        listed = _keys_list(collector)
        assert [g["signing"] for g in listed["generations"]] == ["signs answers", "accepted"]
        assert listed["agents"]["acknowledged"] == []

        # through the window: old batches still open, answers signed by the old key announce the new keys
        mark = len(online.transport.replies)
        online.steps(2)
        assert _receipt_keys(online, mark) == {old_id}, "through the window answers are signed by the old key"
        record = online.record()
        assert set(record["signing_keys"]) == {old_id, new_id} and record["key_set"]["serial"] == 2
        assert record["collector_key"] == wire.public_key_b64(old_hpke.public_key()), "the enrolled key is kept"
        status = online.status()
        assert status["signing_keys"] == sorted([old_id, new_id])
        assert any(k.startswith(old_id + " (until ") for k in status["trusted_keys"])
        online.spool_events(50)  # sealed now: to the new HPKE key, which the old one cannot open
        sealed = [body for _, body in _ready(online.spool)]
        assert [_opens_with(b, new_hpke) for b in sealed] == [False] * 4 + [True] * 2
        assert [_opens_with(b, old_hpke) for b in sealed] == [True] * 4 + [False] * 2
        while _ready(online.spool)[0][1] not in sealed[-2:]:
            online.steps(1)
        online.steps(1)  # the first batch sealed to the new key: the acknowledgement
        assert _keys_list(collector)["agents"] == {"acknowledged": ["pc-online"], "not_yet": ["pc-offline"]}

        _until(rot["ends_at"])
        # after the window: the new key signs; the rest of the spool (both generations) is delivered
        mark = len(online.transport.replies)
        online.drain()
        assert _receipt_keys(online, mark) == {new_id}
        assert set(online.record()["signing_keys"]) == {new_id}, "the old key is dropped after the window"
        assert old_id not in online.uploader.trust.keys
        with Meddler(collector.url, "old_key") as thief:  # someone holding the old private half
            thief.old_key = old_sign
            online.spool_events(25)
            online.uploader.transport = HttpTransport(thief.url, timeout_s=10)
            unsigned = online.spool.stats()["unsigned_answers"]
            for _ in range(2):
                assert online.uploader.step() != 0.0
            assert thief.meddled == 2 and online.spool.stats()["depth_batches"] == 1, "the batch stays"
            assert online.spool.stats()["unsigned_answers"] == unsigned + 2
        online.uploader.transport = online.transport
        online.drain()
        listed = _keys_list(collector)
        assert [g["signing"] for g in listed["generations"]] == ["retired", "signs answers"]
        assert [g["hpke"] for g in listed["generations"]] == ["open-only", "sealed to"]

        # a PC offline through the whole window: its spool (sealed to the old key) still arrives
        mark = len(offline.transport.replies)
        offline.drain()
        assert _receipt_keys(offline, mark) == {new_id}
        assert [p for p, _ in offline.transport.replies[mark:]].count("/api/v1/signing-keys") == 1
        assert set(offline.record()["signing_keys"]) == {new_id}
        assert offline.spool.stats()["unsigned_answers"] == 0, "a genuine rotation is no forged answer"
        offline.spool_events(25)
        assert _opens_with(_ready(offline.spool)[0][1], new_hpke), "it seals to the new key from now on"
        offline.drain()
    finally:
        online.close()
        offline.close()
    assert sorted(stored_markers(data, "pc-online")) == list(range(275)), "every event stored once"
    assert sorted(stored_markers(data, "pc-offline")) == list(range(125)), "every event stored once"
    conn = sqlite3.connect(data / "seatguard.db")
    try:
        kinds = {str(k) for (k,) in conn.execute("SELECT kind FROM integrity")}
    finally:
        conn.close()
    assert not kinds & {"seq_gap", "batch_gap", "chain_break", "collector_changed", "unsigned_answers"}
    admin = _admin(collector)
    for agent, blob, png in (("pc-online", "shot-before", before_png), ("pc-offline", "shot-late", late_png)):
        got = requests.get(f"{collector.url}/api/v1/agents/{agent}/screenshots/{blob}", headers=admin, timeout=10)
        assert got.status_code == 200 and got.content == png, "screenshots sealed to the old key still open"
    metrics = requests.get(collector.url + "/metrics", timeout=10).text
    assert 'seatguard_hpke_opens_total{generation="1"}' in metrics


def _ready(spool: Spool) -> list[tuple[int, bytes]]:
    """(batch_seq, envelope) of every batch waiting in the spool, oldest first."""
    conn = sqlite3.connect(spool.path)
    try:
        return [(int(s), bytes(b)) for s, b in conn.execute(
            "SELECT batch_seq, body FROM batches WHERE state = 'ready' ORDER BY batch_seq")]
    finally:
        conn.close()


def test_key_set_not_signed_by_a_trusted_key_is_refused(collector: CollectorProcess, tmp_path: Path) -> None:
    pc = Pc(collector, tmp_path, "pc-meddled")
    try:
        pc.spool_events(150)
        enrolled = pc.record()
        with Meddler(collector.url, "inject") as proxy:
            pc.uploader.transport = HttpTransport(proxy.url, timeout_s=10)
            pc.steps(2)  # genuine receipts: the batches are delivered; the injected key set is not taken
            assert proxy.meddled == 2 and pc.spool.stats()["unsigned_answers"] == 2
            assert pc.record() == enrolled and pc.uploader.trust.key_set is None
            assert pc.identity.collector_key.public_bytes_raw() == \
                wire.load_x25519_public(enrolled["collector_key"]).public_bytes_raw()
            rot = _rotate(collector)
            with proxy.lock:
                proxy.mode = "swap"  # the collector's own key set, with the proxy's HPKE key put in
            pc.steps(2)
            assert proxy.meddled == 4 and pc.spool.stats()["unsigned_answers"] == 4
            assert "key_set" not in pc.record()
            with proxy.lock:
                proxy.mode = "transparent"
            pc.steps(1)
        pc.uploader.transport = pc.transport
        assert pc.record()["key_set"]["hpke_key"] == wire.public_key_b64(load_key(collector.data, 2).public_key())
        assert pc.uploader.trust.key_set is not None and pc.uploader.trust.key_set.serial == rot["generation"]
        pc.drain()
    finally:
        pc.close()
    assert sorted(stored_markers(collector.data, "pc-meddled")) == list(range(150))


def test_key_sets_are_signed_and_never_rolled_back() -> None:
    old, new, other = wire.new_agent_key(), wire.new_agent_key(), wire.new_agent_key()
    trusted = {key_id(old.public_key()): old.public_key()}
    hpke = wire.public_key_b64(wire.new_collector_key().public_key())
    both = {key_id(k.public_key()): wire.public_key_b64(k.public_key()) for k in (old, new)}
    good = sign_key_set(old, serial=2, signing_keys=both, retire={key_id(old.public_key()): "2030-01-01T00:00:00Z"},
                        hpke_key=hpke, seal_from="2026-01-01T00:00:00Z")
    assert verify_key_set(good, trusted).signing_keys == both
    for raw, code in [
        (sign_key_set(other, serial=2, signing_keys=both, retire={}, hpke_key=hpke, seal_from="2026-01-01T00:00Z"),
         "unknown_key"),
        ({**good, "hpke_key": wire.public_key_b64(wire.new_collector_key().public_key())}, "bad_signature"),
        ({**good, "retire": {}}, "bad_signature"),
        ({**good, "key_id": key_id(other.public_key()), "sig": good["sig"]}, "unknown_key"),
        ({**good, "v": 2}, "malformed"),
        (sign_key_set(old, serial=2, signing_keys=both, retire={"0" * 16: "2030-01-01T00:00:00Z"}, hpke_key=hpke,
                      seal_from="2026-01-01T00:00:00Z"), "malformed"),
    ]:
        with pytest.raises(ReceiptError) as err:
            verify_key_set(raw, trusted)
        assert err.value.code == code, (raw, err.value)


def test_forged_receipt_on_a_blob_answer_is_refused_and_the_blob_stays(collector: CollectorProcess,
                                                                       tmp_path: Path) -> None:
    pc = Pc(collector, tmp_path, "pc-blob")
    png = tiny_png(b"KEPT-THROUGH-A-FORGED-RECEIPT")
    try:
        BatchBuilder(pc.identity, pc.spool, load_config(pc.home)).emit_blob("shot-1", png)
        with Meddler(collector.url, "forge_blob") as fake:
            pc.uploader.transport = HttpTransport(fake.url, timeout_s=10)
            for _ in range(3):
                assert pc.uploader.step() not in (0.0, None)
            assert fake.meddled == 3 and pc.spool.peek_blob() is not None, "the blob stays in the spool"
            assert pc.spool.stats()["unsigned_answers"] == 3
        pc.uploader.transport = pc.transport
        pc.drain()
        assert pc.spool.peek_blob() is None
    finally:
        pc.close()
    got = requests.get(f"{collector.url}/api/v1/agents/pc-blob/screenshots/shot-1", headers=_admin(collector),
                       timeout=10)
    assert got.status_code == 200 and got.content == png


def test_keys_cli_keeps_an_unrotated_data_folder_as_it_was(tmp_path: Path) -> None:
    data = tmp_path / "c"
    run_cli(COLLECTOR, "init", "--data", str(data))
    def key_files() -> list[str]:
        return sorted(p.name for p in data.iterdir() if p.name.startswith(("collector_", "key_rotation")))

    before = key_files()
    assert before == ["collector_ed25519.pem", "collector_x25519.pem"]
    listed = json.loads(run_cli(COLLECTOR, "keys", "list", "--data", str(data)))
    assert listed["rotation"] is None and [g["generation"] for g in listed["generations"]] == [1]
    assert key_files() == before, "listing changes nothing"
    out = json.loads(run_cli(COLLECTOR, "keys", "rotate", "--data", str(data), "--window-days", "7"))
    assert out["generation"] == 2
    proc = subprocess.run([COLLECTOR, "keys", "rotate", "--data", str(data)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "window is open" in proc.stderr
    retired = json.loads(run_cli(COLLECTOR, "keys", "retire", "--data", str(data), "--now"))
    assert retired["deleted"] == ["collector_ed25519.pem"] and not (data / "collector_ed25519.pem").exists()
    assert (data / "collector_x25519.pem").exists(), "HPKE private halves are kept (open-only)"
    assert datetime.fromisoformat(retired["window_ended"]["ends_at"].replace("Z", "+00:00")) <= datetime.now(UTC)


def _events(data: Path, agent_id: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(data / "seatguard.db")
    try:
        rows = conn.execute("SELECT data FROM events WHERE agent_id = ? ORDER BY seq", (agent_id,)).fetchall()
        kinds = {str(k) for (k,) in conn.execute("SELECT kind FROM integrity WHERE agent_id = ?", (agent_id,))}
    finally:
        conn.close()
    return [json.loads(r[0]) | {"_findings": sorted(kinds)} for r in rows]


def _run_agent(home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_AGE_S": "0.2"}
    return subprocess.Popen([AGENT, "run", "--home", str(home), "--no-sensors", "--heartbeat-s", "0.3"], env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def _stop(agent: subprocess.Popen[bytes]) -> None:
    agent.send_signal(signal.SIGTERM)
    agent.wait(30)


def test_running_agent_goes_through_a_rotation_and_restarts_after_it(collector: CollectorProcess,
                                                                     tmp_path: Path) -> None:
    home, log = tmp_path / "agent", tmp_path / "agent.log"
    collector.enroll(home, "pc-run")
    agent = _run_agent(home, log)
    try:
        wait_for(lambda: len(_events(collector.data, "pc-run")) >= 3, 60, what="heartbeats before the rotation")
        rot = _rotate(collector, window_s=20.0)
        new_id = key_id(load_signing_key(collector.data, 2).public_key())
        wait_for(lambda: "key_set" in json.loads((home / "enrollment.json").read_bytes()), 60,
                 what="the key set taken by the running agent")
        wait_for(lambda: _keys_list(collector)["agents"]["acknowledged"] == ["pc-run"], 60,
                 what="batches sealed to the new HPKE key")
        _until(rot["ends_at"])
        wait_for(lambda: json.loads((home / "enrollment.json").read_bytes())["signed_policy"]["key_id"] == new_id,
                 60, what="the policy in force re-signed by the new key")
    finally:
        _stop(agent)
    record = json.loads((home / "enrollment.json").read_bytes())
    assert list(record["signing_keys"]) == [new_id]
    agent = _run_agent(home, log)  # a start after the window: the stored policy and key set still verify
    try:
        count = len(_events(collector.data, "pc-run"))
        wait_for(lambda: len(_events(collector.data, "pc-run")) >= count + 3, 60, what="heartbeats after a restart")
    finally:
        _stop(agent)
    events = _events(collector.data, "pc-run")
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)) and events[-1]["kind"] == "agent.stop", "nothing lost"
    beats = [e for e in events if e["kind"] == "agent.heartbeat"]
    assert {b["unsigned_answers"] for b in beats} == {0} and {b["collector_changes"] for b in beats} == {0}
    assert {b["policy_version"] for b in beats} == {record["signed_policy"]["version"]}
    assert not events[-1]["_findings"], "a rotation raises no finding"
    assert "does not verify" not in log.read_text(encoding="utf-8")


def test_agent_seals_to_the_new_key_only_from_seal_from_and_refuses_an_older_key_set() -> None:
    old, new = wire.new_agent_key(), wire.new_agent_key()
    enrolled, rotated = wire.new_collector_key(), wire.new_collector_key()
    old_id, new_id = key_id(old.public_key()), key_id(new.public_key())
    both = {k: wire.public_key_b64(p.public_key()) for k, p in ((old_id, old), (new_id, new))}
    identity = Identity("pc-1", "cs-a", "http://127.0.0.1:1", wire.public_key_b64(enrolled.public_key()),
                        wire.new_agent_key(), {}, {old_id: both[old_id]})
    trust = Trust(None, identity)
    later = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat().replace("+00:00", "Z")
    announced = sign_key_set(old, serial=3, signing_keys=both, retire={old_id: later},
                             hpke_key=wire.public_key_b64(rotated.public_key()), seal_from=later)
    assert trust.note_key_set({"key_set": announced}) and set(trust.keys) == {old_id, new_id}
    sealed = identity.collector_key.public_bytes_raw()
    assert sealed == enrolled.public_key().public_bytes_raw(), "not before seal_from"
    assert identity.seal.current_b64(time.time() + 7200) == wire.public_key_b64(rotated.public_key())
    shown = trust.describe()
    assert new_id in shown and [d for d in shown if d.startswith(f"{old_id} (until {later[:16]}")], shown
    older = sign_key_set(new, serial=2, signing_keys={new_id: both[new_id]}, retire={},
                         hpke_key=wire.public_key_b64(enrolled.public_key()), seal_from=later)
    with pytest.raises(ReceiptError) as err:
        trust.note_key_set({"key_set": older})
    assert err.value.code == "rollback" and trust.key_set is not None and trust.key_set.serial == 3
    assert not trust.note_key_set({"key_set": announced}), "the same set again changes nothing"
    assert not trust.note_key_set({}), "an answer without a key set changes nothing"


def test_key_ring_generations_and_when_the_new_key_signs(tmp_path: Path) -> None:
    data = tmp_path / "c"
    run_cli(COLLECTOR, "init", "--data", str(data))
    one = KeyRing(data, 300.0)
    assert one.rotation is None and one.signing_key(time.time()) is one.signing[1]
    assert [g for g, _ in one.open_keys(time.time())] == [1] and list(one.accepted_signing(time.time())) == [1]
    t0 = time.time()
    rotate(data, window_days=1.0, seal_after_hours=2.0, now=t0)
    ring = KeyRing(data, 300.0)
    end = t0 + 86400
    assert ring.signing_key(t0 + 1) is ring.signing[1] and ring.signing_key(end - 301) is ring.signing[1]
    assert ring.signing_key(end - 299) is ring.signing[2], "the new key signs max_clock_skew_s before the end"
    assert list(ring.accepted_signing(end - 1)) == [1, 2] and list(ring.accepted_signing(end + 1)) == [2]
    assert ring.seal_gen(t0 + 7199) == 1 and ring.seal_gen(t0 + 7201) == 2
    assert [g for g, _ in ring.open_keys(t0 + 1)] == [1, 2] and [g for g, _ in ring.open_keys(end)] == [2, 1]
    with pytest.raises(ConfigError, match="window is open"):
        rotate(data, window_days=1.0, now=t0 + 10)
    rotate(data, window_days=1.0, now=end + 1)  # a second rotation after the first window
    third = KeyRing(data, 300.0)
    assert third.newest == 3 and sorted(third.hpke) == [1, 2, 3] and sorted(third.signing) == [2, 3]


@pytest.mark.parametrize("window", ["nan", "inf", "1e7", "400"])
def test_a_window_that_never_ends_is_refused_before_any_key_is_made(tmp_path: Path, window: str) -> None:
    """A window of NaN, infinity or centuries would keep the old signing key trusted for ever (or crash
    half-way, leaving generation 2's files with no record, so that every later rotation is refused)."""
    data = tmp_path / "c"
    run_cli(COLLECTOR, "init", "--data", str(data))
    def key_files() -> list[str]:
        return sorted(p.name for p in data.iterdir() if p.name.endswith(".pem") or p.name.startswith("key_rotation"))

    before = key_files()
    for args in (["--window-days", window], ["--window-days", "7", "--seal-after-hours", window]):
        proc = subprocess.run([COLLECTOR, "keys", "rotate", "--data", str(data), *args], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "--window-days" in proc.stderr or "--seal-after-hours" in proc.stderr, proc.stderr
        assert key_files() == before, "no key file and no rotation record was written"
    out = json.loads(run_cli(COLLECTOR, "keys", "rotate", "--data", str(data), "--window-days", "7"))
    assert out["generation"] == 2, "the data folder can still be rotated"
