"""Web UI test fixtures: a collector with two teams, one person per role, and days of real sealed batches.

Every event reaches the collector the way an agent's would: enrolled with a one-time token and an
Ed25519 key, sealed with HPKE to the collector key, signed, posted to ``/api/v1/batches`` and
masked at ingest. :class:`World` works in-process (a TestClient) or against a real ``serve``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from collector.cli import main as collector_main
from collector.service import Collector
from contract import wire
from contract.schema import format_ts
from tests.answer_fixtures import verified_receipt
from tests.conftest import DATA_DIRS, RAW_IDS

TZ = ZoneInfo("Asia/Shanghai")
# name: (role, teams, agent_id)
PEOPLE: dict[str, tuple[str, list[str], str | None]] = {
    "root": ("admin", [], None),
    "sec": ("security", [], None),
    "mgr-a": ("manager", ["cs-a"], None),
    "mgr-b": ("manager", ["cs-b"], None),
    "aud": ("auditor", [], None),
    "pc-a1-person": ("agent", [], "pc-a1"),
}
PASSWORD = "correct horse battery staple"
AGENTS = {"pc-a1": "cs-a", "pc-a2": "cs-a", "pc-a3": "cs-a", "pc-b1": "cs-b", "pc-b2": "cs-b"}
RISKY = {"pc-a1": "exfiltration", "pc-b1": "offlist"}

Post = Callable[[str, bytes], httpx.Response]


class SimAgent:
    """One enrolled PC: its key, its event counter and its batch chain."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.key = wire.new_agent_key()
        self.seq = 0
        self.batch_seq = 0
        self.prev = wire.GENESIS_HASH
        self.collector_key: Any = None

    def enroll(self, post: Post, token: str) -> None:
        body = httpx.Request("POST", "http://x", json={
            "token": token, "public_key": wire.public_key_b64(self.key.public_key()), "name": self.agent_id,
            "hostname": f"{self.agent_id}-host", "user": f"user-{self.agent_id}"}).content
        answer = post("/api/v1/enroll", body)
        assert answer.status_code == 200, answer.text
        self.collector_key = wire.load_x25519_public(answer.json()["collector_key"])
        self.signing_keys: dict[str, str] = answer.json()["signing_keys"]

    def send(self, post: Post, events: list[dict[str, Any]], per_batch: int = 200) -> None:
        for i in range(0, len(events), per_batch):
            chunk = []
            for e in events[i:i + per_batch]:
                self.seq += 1
                chunk.append({"schema": 1, "agent_id": self.agent_id, "seq": self.seq, **e})
            self.batch_seq += 1
            body, self.prev = wire.seal_batch(
                agent_id=self.agent_id, batch_seq=self.batch_seq, prev_batch_hash=self.prev, events=chunk,
                sealed_at=format_ts(datetime.now(UTC)), collector_key=self.collector_key, agent_key=self.key)
            answer = post("/api/v1/batches", body)
            assert answer.status_code == 200 and answer.json()["quarantined"] == 0, answer.text
            assert verified_receipt(answer.json(), body, self.signing_keys).outcome == "stored"


def _ev(at: datetime, kind: str, **fields: Any) -> dict[str, Any]:
    return {"ts": format_ts(at.astimezone(UTC)), "kind": kind, **fields}


def workday(day: date, risky: str = "", n_cases: int = 22, index: int = 0) -> list[dict[str, Any]]:
    """A plausible day at a seat. ``risky``: ``exfiltration`` adds bulk ID copies to a chat app, a USB
    export and AnyDesk; ``offlist`` adds a paste site and a screen recorder."""
    t0 = datetime.combine(day, time(8, 55), TZ) + timedelta(minutes=index)
    out = [_ev(t0, "agent.start", version="0.1.0", os="Windows 11", hostname="pc", user="u"),
           _ev(t0 + timedelta(minutes=3), "app.focus", app="softphone.exe", title="Softphone - ready", pid=10)]
    for i in range(n_cases):
        at = t0 + timedelta(minutes=10 + i * 20 + (60 if i >= 9 else 0))
        case = f"C-{day.year}-{index * 1000 + i:07d}"
        customer = 100200 + index * 50 + i
        out += [
            _ev(at, "case.open", case_id=case, app="chrome.exe", title=f"Case {case} - CRM"),
            _ev(at + timedelta(seconds=5), "app.focus", app="chrome.exe", title=f"客户详情 {case} - CRM", pid=20),
            _ev(at + timedelta(seconds=8), "page.open", url=f"https://crm.lender.example/customers/{customer}",
                title=f"客户 王芳 身份证 {RAW_IDS[0]} 手机 {RAW_IDS[2]}", app="chrome.exe"),
            _ev(at + timedelta(minutes=3), "clipboard.copy", app="chrome.exe", title="客户详情", trigger="hotkey",
                chars=11, classes={"id_number": 0, "phone": 1, "bank_card": 0}, action="allowed"),
            _ev(at + timedelta(minutes=4), "app.focus", app="softphone.exe", title="Softphone - in call", pid=10),
            _ev(at + timedelta(minutes=12, seconds=index * 7), "case.close", case_id=case,
                active_s=660.0 + index * 7, idle_s=60.0, wall_s=720.0 + index * 7),
        ]
    for minute in range(0, 9 * 60 + 10):
        out.append(_ev(t0 + timedelta(minutes=minute, seconds=30), "agent.heartbeat", spool_depth=0, dropped_total=0,
                       cpu_pct=1.5, rss_mb=60.0))
    lunch = datetime.combine(day, time(12, 5), TZ)
    out += [_ev(lunch, "input.idle", threshold_s=300.0), _ev(lunch + timedelta(minutes=55), "input.active",
                                                              idle_s=3600.0)]
    if risky == "offlist":
        at = datetime.combine(day, time(15, 10), TZ)
        out += [
            _ev(at, "page.open", url="https://pastebin.example/new", title="New paste", app="chrome.exe"),
            _ev(at + timedelta(minutes=2), "process.start", name="obs64.exe", exe="C:\\obs64.exe", pid=41,
                category="screen_capture"),
        ]
    if risky == "exfiltration":
        at = datetime.combine(day, time(14, 30), TZ)
        out += [
            _ev(at, "app.focus", app="chrome.exe", title=f"客户列表 导出 {RAW_IDS[1]}", pid=20),
            _ev(at + timedelta(seconds=20), "clipboard.copy", app="chrome.exe", title="客户列表", trigger="hotkey",
                chars=4800, classes={"id_number": 240, "phone": 240, "bank_card": 12}, action="allowed"),
            _ev(at + timedelta(seconds=50), "app.focus", app="wechat.exe", title="文件传输助手", pid=30),
            _ev(at + timedelta(minutes=5), "device.mount", mountpoint="E:\\", fs="exFAT", label="KINGSTON",
                removable=True),
            _ev(at + timedelta(minutes=6), "file.write", path="E:\\客户名单.xlsx", op="created", size=48_000_000,
                removable=True),
            _ev(at + timedelta(minutes=20), "process.start", name="AnyDesk.exe", exe="C:\\AnyDesk.exe", pid=40,
                category="remote_access"),
            _ev(at + timedelta(minutes=21), "screenshot", blob_id="b-1", reason="remote_access", w=1920, h=1080),
        ]
    stop = datetime.combine(day, time(18, 0), TZ)
    out.append(_ev(stop, "agent.stop", reason="shutdown"))
    return sorted(out, key=lambda e: e["ts"])


def live_events(app: str = "excel.exe", case: str | None = None) -> list[dict[str, Any]]:
    """Events happening right now (for the live wall)."""
    now = datetime.now(UTC) - timedelta(seconds=2)
    out = [_ev(now - timedelta(seconds=1), "agent.start", version="0.1.0", os="Windows 11", hostname="pc", user="u"),
           _ev(now, "app.focus", app=app, title="工作簿1", pid=50)]
    if case:
        out += [_ev(now, "case.open", case_id=case, app=app, title=case),
                _ev(now, "case.close", case_id=case, active_s=30.0, idle_s=0.0, wall_s=30.0)]
    return out


class World:
    """People, agents and their days in one collector data folder."""

    def __init__(self, data: Path, post: Post | None = None, init: bool = True) -> None:
        if init:
            assert collector_main(["init", "--data", str(data)]) == 0
            DATA_DIRS.append(data)
        self.data = data
        self.collector = Collector.open(data)
        self.post: Post = post or self._in_process_post()
        self.agents: dict[str, SimAgent] = {}
        self.yesterday = (datetime.now(TZ).date() - timedelta(days=1))
        for name, (role, teams, agent_id) in PEOPLE.items():
            self.collector.accounts.add_user(name, role, teams, agent_id, password=PASSWORD)

    def _in_process_post(self) -> Post:
        from fastapi.testclient import TestClient

        from collector.api import create_app

        self.app = create_app(self.collector)
        self.client = TestClient(self.app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
        return lambda path, body: self.client.post(path, content=body, headers={"content-type": "application/json"})

    def populate(self, build_report: bool = True) -> None:
        for index, (agent_id, team) in enumerate(AGENTS.items()):
            agent = SimAgent(agent_id)
            agent.enroll(self.post, self.collector.enrollment.create_token(team))
            agent.send(self.post, workday(self.yesterday, RISKY.get(agent_id, ""), index=index))
            self.agents[agent_id] = agent
        if build_report:
            self.collector.reports.build(self.yesterday.isoformat())

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        self.collector.close()


def signed_in(app: Any, name: str) -> Any:
    """A TestClient on ``app`` signed in as ``name`` (the fixtures' PASSWORD), from loopback."""
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
    token = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token}).status_code == 200
    return client


def csrf_of(html: str, field: str = "csrf") -> str:
    found = re.search(rf'name="{field}" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)
