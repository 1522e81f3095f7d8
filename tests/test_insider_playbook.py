"""Issue 14's insider playbook against a real collector process: one scenario per hole.

The person at the PC holds the PC's own key and runs the agent's own sealing code. Each move that
gave way before must now show in a rollup, the report or an alert, or be refused with its code.
Holes covered: Blinded, Wedged, Alerts page down, Amplified, Raw IDs stored (every sub-bullet),
Look-alike agents, Sign-in, Reads, Blobs, Exports and assets.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from contract import wire
from tests.conftest import COLLECTOR, RAW_IDS, CollectorProcess, run_cli
from tests.insider import Insider

TZ = ZoneInfo("Asia/Shanghai")
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
YESTERDAY = (datetime.now(TZ) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hh: int, mm: int, ss: int = 0) -> str:
    """An RFC 3339 moment of yesterday (inside the default 09:00-18:00 shift when asked)."""
    return YESTERDAY.replace(hour=hh, minute=mm, second=ss).isoformat(timespec="milliseconds")


class Playbook:
    def __init__(self, collector: CollectorProcess) -> None:
        self.c = collector
        run_cli(COLLECTOR, "user", "add", "--data", str(collector.data), "--name", "sec-pb", "--role", "security")
        token = run_cli(COLLECTOR, "token", "create", "--data", str(collector.data), "--user", "sec-pb").strip()
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.answers: list[str] = []

    def insider(self, name: str) -> Insider:
        return Insider(self.c, name)

    def get(self, route: str) -> requests.Response:
        answer = requests.get(self.c.url + route, headers=self.bearer, timeout=60)
        self.answers.append(answer.text)
        return answer

    def features(self, agent_id: str, day: str) -> dict[str, float]:
        conn = sqlite3.connect(self.c.data / "seatguard.db")
        try:
            row = conn.execute("SELECT features FROM rollups WHERE agent_id = ? AND day = ?",
                               (agent_id, day)).fetchone()
        finally:
            conn.close()
        assert row is not None, f"no rollup for {agent_id} {day}"
        return dict(json.loads(row[0]))

    def quarantine_reasons(self, agent_id: str) -> str:
        conn = sqlite3.connect(self.c.data / "seatguard.db")
        try:
            return " ".join(r[0] for r in conn.execute("SELECT reason FROM quarantine WHERE agent_id = ?", (agent_id,)))
        finally:
            conn.close()


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playbook]:
    collector = CollectorProcess(tmp_path_factory.mktemp("playbook") / "collector")
    collector.start()
    try:
        yield Playbook(collector)
    finally:
        collector.stop()


def _ev(i: Insider, kind: str, ts: str, **fields: Any) -> dict[str, Any]:
    i.seq += 1
    return {"schema": 1, "agent_id": i.agent_id, "seq": i.seq, "ts": ts, "kind": kind, **fields}


def _stored(i: Insider, events: list[Any]) -> dict[str, Any]:
    answer = i.post(i.seal(events))
    assert answer.status_code == 200, answer.text[:300]
    return dict(answer.json())


def _refused(i: Insider, body: bytes, status: int, code: str) -> None:
    answer = i.post(body)
    assert answer.status_code == status and answer.json()["error"]["code"] == code, answer.text[:300]


# -- Blinded ------------------------------------------------------------------------------------------
def test_blinded_alt_tabs_then_ids_to_wechat_still_count(pb: Playbook) -> None:
    i = pb.insider("pc-blind")
    day = YESTERDAY.date().isoformat()
    events = [_ev(i, "agent.start", at(9, 0), version="1", os="w", hostname="h", user="u")]
    base = YESTERDAY.replace(hour=9, minute=1)
    for k in range(1000):  # Alt-Tab between two off-list tools
        ts = (base + timedelta(seconds=2 * k)).isoformat(timespec="milliseconds")
        events.append(_ev(i, "app.focus", ts, app=f"tool{k % 2}.exe", title="t", pid=3))
    for k in range(8):  # then eight ID copies, each pasted into WeChat
        t = YESTERDAY.replace(hour=10, minute=k)
        events.append(_ev(i, "clipboard.copy", t.isoformat(timespec="milliseconds"), app="crm.exe", title="CRM",
                          trigger="hotkey", chars=18, classes={"id_number": 1}, action="allowed"))
        events.append(_ev(i, "app.focus", (t + timedelta(seconds=5)).isoformat(timespec="milliseconds"),
                          app="WeChat.exe", title="chat", pid=2))
    assert _stored(i, events)["stored"] == len(events)
    assert pb.features("pc-blind", day)["ids_to_messaging"] >= 8


def test_blinded_a_clean_stop_in_the_middle_of_the_shift_is_evidence(pb: Playbook) -> None:
    i = pb.insider("pc-stop")
    day = YESTERDAY.date().isoformat()
    start = {"version": "1", "os": "w", "hostname": "h", "user": "u"}
    beat = {"spool_depth": 0, "dropped_total": 0, "cpu_pct": 1.0, "rss_mb": 40.0}
    events = [_ev(i, "agent.start", at(9, 0), **start)]
    events += [_ev(i, "agent.heartbeat", at(9, m), **beat) for m in range(1, 60)]
    events.append(_ev(i, "agent.stop", at(10, 0), reason="user"))  # a clean stop, 90 minutes off
    events.append(_ev(i, "agent.start", at(11, 30), **start))
    events += [_ev(i, "agent.heartbeat", at(11, m), **beat) for m in range(31, 60)]
    _stored(i, events)
    features = pb.features("pc-stop", day)
    assert features["stops_in_shift"] >= 1 and features["stopped_shift_min"] >= 60


# -- Wedged -------------------------------------------------------------------------------------------
def test_wedged_quantities_and_deep_values_never_stop_the_pc(pb: Playbook) -> None:
    i = pb.insider("pc-wedge")
    hostile = [
        _ev(i, "file.write", at(10, 0), path="E:/big.iso", op="created", removable=True, size=13_900_000_000),
        _ev(i, "input.idle", at(10, 1), threshold_s=RAW_IDS[2]),
        _ev(i, "app.focus", at(10, 2), app="crm", title=_nest(400), pid=1),
        _ev(i, "agent.stop", at(10, 3), reason="a\x00b"),
    ]
    answer = _stored(i, hostile)
    assert answer["stored"] == 2 and answer["quarantined"] == 2
    assert _stored(i, [_ev(i, "app.focus", at(10, 5), app="crm", title="t", pid=1)])["stored"] == 1
    timeline = pb.get(f"/api/v1/agents/pc-wedge/timeline?date={YESTERDAY.date().isoformat()}").json()["events"]
    assert 13_900_000_000 in [e.get("size") for e in timeline]  # a quantity stays a number
    assert "threshold_s" in pb.quarantine_reasons("pc-wedge")


def _nest(depth: int) -> Any:
    value: Any = RAW_IDS[0]
    for _ in range(depth):
        value = [value]
    return value


# -- Alerts page down ---------------------------------------------------------------------------------
def test_alerts_page_a_phone_shaped_seq_is_refused_and_alerts_keep_answering(pb: Playbook) -> None:
    i = pb.insider("pc-alert")
    phone_seq = {"schema": 1, "agent_id": "pc-alert", "seq": int(RAW_IDS[2]), "ts": at(11, 0),
                 "kind": "file.write", "path": "E:/a", "op": "created", "removable": True, "size": 1}
    writes = [_ev(i, "file.write", at(11, k), path=f"E:/f{k}", op="created", removable=True, size=5)
              for k in range(1, 4)]
    answer = _stored(i, [phone_seq, *writes])
    assert answer["quarantined"] == 1 and "seq" in pb.quarantine_reasons("pc-alert")
    listed = pb.get("/api/v1/alerts")
    assert listed.status_code == 200
    for alert in listed.json()["alerts"]:
        assert type(alert["seq"]) is int and alert["seq"] < 10**10
    assert pb.get("/alerts").status_code < 500


# -- Amplified ----------------------------------------------------------------------------------------
def test_amplified_quarantine_rows_are_capped_and_bombs_refused(pb: Playbook) -> None:
    i = pb.insider("pc-amp")
    answer = _stored(i, [_ev(i, "no.such", at(12, 0)) for _ in range(20_000)])
    assert answer["quarantined"] == 500  # max_quarantine_per_batch: the rest is counted, not stored
    assert "counted, not stored" in pb.quarantine_reasons("pc-amp")
    _refused(i, i.seal([_ev(i, "no.such", at(12, 1)) for _ in range(100_000)]), 413, "too_many_values")
    _refused(i, i.seal([_ev(i, "app.focus", at(12, 2), app="a", title="0" * 50_000_000, pid=1)]), 413,
             "inflate_ratio")
    assert _stored(i, [_ev(i, "app.focus", at(12, 3), app="crm", title="t", pid=1)])["stored"] == 1


# -- Raw IDs stored -----------------------------------------------------------------------------------
def test_raw_ids_agent_id_carrying_an_id_number_is_refused(pb: Playbook) -> None:
    body = {"token": pb.c.token(), "public_key": wire.public_key_b64(wire.new_agent_key().public_key())}
    for name in (RAW_IDS[1], f"pc-{RAW_IDS[0]}", f"pc-{RAW_IDS[2]}"):
        answer = requests.post(pb.c.url + "/api/v1/enroll", json={**body, "name": name}, timeout=30)
        pb.answers.append(answer.text)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "name_personal"


def test_raw_ids_enrollment_hostname_and_user_are_masked(pb: Playbook) -> None:
    key = wire.public_key_b64(wire.new_agent_key().public_key())
    answer = requests.post(pb.c.url + "/api/v1/enroll", timeout=30, json={
        "token": pb.c.token(), "public_key": key, "name": "pc-meta", "hostname": f"DESKTOP-{RAW_IDS[0]}",
        "user": f"u{RAW_IDS[2]}"})
    assert answer.status_code == 200, answer.text
    conn = sqlite3.connect(pb.c.data / "seatguard.db")
    try:
        hostname, user = conn.execute("SELECT hostname, user FROM agents WHERE agent_id = 'pc-meta'").fetchone()
    finally:
        conn.close()
    assert hostname.endswith("002X") and RAW_IDS[0] not in hostname and RAW_IDS[2] not in user


def test_raw_ids_prev_batch_hash_must_be_hex_of_its_length(pb: Playbook) -> None:
    i = pb.insider("pc-hash")
    i.prev = RAW_IDS[1] + "_" * 46
    _refused(i, i.seal([_ev(i, "app.focus", at(13, 0), app="a", title="t", pid=1)]), 400, "bad_hash")
    i.prev = wire.GENESIS_HASH
    _stored(i, [_ev(i, "app.focus", at(13, 1), app="a", title="t", pid=1)])
    i.prev = RAW_IDS[2] + "a" * 53  # hex, carrying a phone number: the chain break is recorded, masked
    _stored(i, [_ev(i, "app.focus", at(13, 2), app="a", title="t", pid=1)])
    assert pb.c.stats("pc-hash")["gaps"]["chain_break"] == 1


@pytest.mark.parametrize(("shape", "text"), [
    ("float", 13800138000.25),
    ("zero-width space", f"客户 {RAW_IDS[0][:6]}\u200b{RAW_IDS[0][6:]}"),
    ("soft hyphen", f"客户 {RAW_IDS[0][:6]}\u00ad{RAW_IDS[0][6:]}"),
    ("slash", f"tel 138/0013/8000 {RAW_IDS[3]}"),
    ("underscore", "tel 138_0013_8000"),
    ("pipe", "tel 138|0013|8000"),
    ("tab", "tel 138\t0013\t8000"),
    ("percent-encoded", "https://crm.internal/q?id=" + "".join(f"%3{d}" for d in RAW_IDS[1])),
    ("circled", "①③⑧⓪⓪①③⑧⓪⓪⓪"),
])
def test_raw_ids_hidden_numbers_are_masked_in_storage_and_answers(pb: Playbook, shape: str, text: Any) -> None:
    i = pb.insider(f"pc-mask-{len(pb.answers)}")
    if shape == "percent-encoded":
        event = _ev(i, "page.open", at(14, 0), url=text, title="t", app="chrome.exe")
    else:
        event = _ev(i, "app.focus", at(14, 0), app="crm", title=text, pid=1)
    answer = _stored(i, [event, _ev(i, "agent.heartbeat", at(14, 1), spool_depth=0, dropped_total=0,
                                   cpu_pct=float(text) if isinstance(text, float) else 1.0, rss_mb=1.0)])
    assert answer["stored"] + answer["quarantined"] == 2
    body = pb.get(f"/api/v1/agents/{i.agent_id}/timeline?date={YESTERDAY.date().isoformat()}").text
    assert not any(raw in body for raw in RAW_IDS) and "1380013" not in body.replace("\\", "")


# -- Look-alike agents --------------------------------------------------------------------------------
def test_lookalike_agents_are_refused_and_a_named_token_is_binding(pb: Playbook) -> None:
    pb.insider("pc-a1")
    key = wire.public_key_b64(wire.new_agent_key().public_key())
    for name, code in (("pc-a1\n", "bad_name"), ("PC-A1", "agent_id_lookalike"), ("pc-a1", "agent_id_taken")):
        answer = requests.post(pb.c.url + "/api/v1/enroll", timeout=30,
                               json={"token": pb.c.token(), "public_key": key, "name": name})
        assert answer.json()["error"]["code"] == code, (name, answer.text)
    named = run_cli(COLLECTOR, "enroll-token", "--data", str(pb.c.data), "--team", "cs-a", "--name", "pc-lin").strip()
    answer = requests.post(pb.c.url + "/api/v1/enroll", timeout=30,
                           json={"token": named, "public_key": key, "name": "pc-colleague"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "name_not_on_token"


# -- Sign-in ------------------------------------------------------------------------------------------
def _sign_in(pb: Playbook, name: str, password: str) -> requests.Response:
    form = requests.get(pb.c.url + "/login?lang=en", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text[:300]
    cookie = "; ".join(f"{k}={v}" for k, v in form.cookies.items())
    return requests.post(pb.c.url + "/login?lang=en", data={"name": name, "password": password,
                                                             "csrf": csrf.group(1)},
                         headers={"Cookie": cookie}, allow_redirects=False, timeout=30)


def test_sign_in_one_message_for_every_refusal_and_a_per_client_limit(pb: Playbook) -> None:
    unknown = _sign_in(pb, "nobody-here", "x")
    wrong = _sign_in(pb, "admin", "not-the-password")
    assert unknown.status_code == wrong.status_code and unknown.status_code in (401, 403, 200, 429)

    def message(page: requests.Response) -> str:
        found = re.search(r'class="error"[^>]*>([^<]+)<', page.text)
        return found.group(1).strip() if found else page.text[-200:]

    assert message(unknown) == message(wrong)
    statuses = [_sign_in(pb, "admin", f"guess-{n}").status_code for n in range(40)]
    assert 429 in statuses  # the per-client token bucket on /login


# -- Reads --------------------------------------------------------------------------------------------
def test_reads_listing_agents_is_audited_per_agent_on_their_me_page(pb: Playbook) -> None:
    pb.insider("pc-read")
    run_cli(COLLECTOR, "user", "add", "--data", str(pb.c.data), "--name", "lin.read", "--role", "agent",
            "--agent", "pc-read")
    own = run_cli(COLLECTOR, "token", "create", "--data", str(pb.c.data), "--user", "lin.read").strip()
    assert pb.get("/api/v1/agents").status_code == 200  # listing agents: audited once per agent shown
    assert pb.get(f"/api/v1/agents/pc-read/timeline?date={YESTERDAY.date().isoformat()}").status_code == 200
    me = requests.get(pb.c.url + "/api/v1/me", headers={"Authorization": f"Bearer {own}"}, timeout=30)
    assert me.status_code == 200, me.text[:300]
    actions = {v["action"] for v in me.json()["viewers"] if v["actor"] == "sec-pb"}
    assert len(actions) >= 2, me.json()["viewers"]  # the agents list and the timeline, each naming pc-read


# -- Blobs --------------------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _blob(i: Insider, blob_id: str) -> requests.Response:
    body = wire.seal_blob(agent_id=i.agent_id, blob_id=blob_id, data=PNG,
                          sealed_at=datetime.now(TZ).isoformat(timespec="milliseconds"),
                          collector_key=i.collector_key, agent_key=i.key)
    return requests.post(i.url + "/api/v1/blobs", data=body, timeout=30,
                         headers={"content-type": "application/json"})


def test_blobs_one_agent_cannot_take_another_agents_blob_id(pb: Playbook) -> None:
    first, second = pb.insider("pc-blob1"), pb.insider("pc-blob2")
    stored = _blob(first, "shot-1")
    assert stored.status_code == 200 and stored.json()["status"] == "stored", stored.text
    taken = _blob(second, "shot-1")  # the same id from another PC is its own screenshot, not a duplicate
    assert taken.status_code == 200 and taken.json()["status"] == "stored", taken.text
    assert _blob(first, "shot-1").json()["status"] == "duplicate"


def test_blobs_a_flood_from_one_pc_is_refused_with_its_code(pb: Playbook) -> None:
    flood = pb.insider("pc-blob3")
    answers = [_blob(flood, f"flood-{n}") for n in range(40)]
    codes = [a.json()["error"]["code"] for a in answers if a.status_code >= 400]
    assert all(a.status_code < 500 for a in answers)
    assert codes and set(codes) <= {"blob_rate", "blob_quota"}, codes
    assert _blob(pb.insider("pc-blob4"), "flood-0").json()["status"] == "stored"  # other PCs are not held back


# -- Exports and assets -------------------------------------------------------------------------------
def test_exports_cells_from_requests_are_defused_and_forwarded_addresses_untrusted(pb: Playbook) -> None:
    pb.insider("-cmd.exe")  # a valid agent_id that a spreadsheet would read as a formula
    formula = "=HYPERLINK(\"http://evil.example\",\"x\")"
    read = requests.get(pb.c.url + "/api/v1/agents/-cmd.exe/timeline?date=2026-11-23", timeout=30,
                        headers={**pb.bearer, "X-Forwarded-For": formula})
    assert read.status_code == 200, read.text[:300]
    export = requests.get(pb.c.url + "/audit.csv", headers=pb.bearer, timeout=30)
    assert export.status_code == 200, export.text[:300]
    rows = list(csv.reader(io.StringIO(export.text)))
    assert any("'-cmd.exe" in row for row in rows), rows[-3:]  # audited, and defused in the export
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "@", "\t", "\r") and not re.match(r"-[^0-9]", cell), row
        assert row[-1] in ("", "127.0.0.1"), row  # X-Forwarded-For from a loopback peer is not trusted
    docs = requests.get(pb.c.url + "/api/docs", timeout=30)
    assert docs.status_code == 404 or not re.search(r"(src|href)=\"https?://", docs.text)


# -- and nothing raw anywhere -------------------------------------------------------------------------
def test_zz_no_raw_number_in_the_data_folder_or_any_answer(pb: Playbook) -> None:
    needles = [n for raw in RAW_IDS for n in (raw.encode(), raw.translate(_FULLWIDTH).encode(),
                                               raw.encode("utf-16-le"))]
    hits = []
    for path in pb.c.data.rglob("*"):
        if path.is_file() and path.suffix != ".pem":
            blob = path.read_bytes()
            hits += [f"{path.name}: {n[:4]!r}" for n in needles if n in blob]
    hits += [f"answer: {raw[:4]}" for text in pb.answers for raw in RAW_IDS if raw in text]
    assert not hits, hits
