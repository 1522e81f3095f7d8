"""Replayed scenario events raise alerts; a real webhook receiver and real syslog listeners on loopback
get them, signed, deduplicated, rate-limited and masked; people list and acknowledge them."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from collector.alerts import AlertConfig
from collector.alerts.clock import ManualClock
from collector.alerts.service import AlertService
from collector.alerts.syslog import SD_ID
from collector.alerts.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from collector.api import create_app
from simulator.fleet import ScenarioSpec, simulate
from simulator.testing.alerts import (
    SealedAgent,
    SyslogReceiver,
    WebhookReceiver,
    install,
    mount_routes,
    open_collector,
    parse_syslog,
    wait_until,
)
from tests.answer_fixtures import verified_receipt
from tests.conftest import DATA_DIRS, RAW_IDS
from tests.tls_fixtures import make_pki, server_context

SECRET = "correct horse battery staple"
TZ = ZoneInfo("Asia/Shanghai")
SCENARIO_RULES = {"ids_to_messaging", "bulk_id_copy", "copy_to_offlist", "remote_access", "removable_write",
                  "drive_mount"}
SYSLOG_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5}


@dataclass
class Env:
    collector: Any
    service: AlertService
    client: TestClient
    hook: WebhookReceiver
    syslog: SyslogReceiver
    clock: ManualClock

    def post(self, body: bytes) -> None:
        answer = self.client.post("/api/v1/batches", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert verified_receipt(answer.json(), body, self.collector.signer.public_keys()).outcome == "stored"

    def token(self, name: str, role: str, teams: list[str] | None = None) -> dict[str, str]:
        self.collector.accounts.add_user(name, role, teams)
        return {"Authorization": f"Bearer {self.collector.accounts.create_token(name)}"}

    def rules_delivered(self, agent_id: str) -> list[str]:
        return [b["alert"]["rule"] for b in self.hook.bodies() if b["alert"]["agent_id"] == agent_id]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[str]]:
    out = tmp_path_factory.mktemp("sim")
    day = datetime.now(TZ).date() - timedelta(days=1)
    simulate(out, agents=1, days=1, seed=3, end=day, scenarios=[
        ScenarioSpec("bulk_id_copy", 0, 0), ScenarioSpec("remote_access", 0, 0), ScenarioSpec("usb_export", 0, 0)])
    events = [json.loads(line) for line in next((out / "events").glob("*.jsonl")).read_text("utf-8").splitlines()]
    raw = (out / "raw_identifiers.txt").read_text("utf-8").split()
    return events, raw


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    pki = make_pki(tmp_path / "pki")
    hook, syslog = WebhookReceiver(), SyslogReceiver(tls=server_context(pki))
    collector = open_collector(tmp_path / "c")
    DATA_DIRS.append(tmp_path / "c")
    clock = ManualClock()
    config = AlertConfig(webhook_url=hook.url, webhook_secret=SECRET, syslog_udp=syslog.udp_address,
                         syslog_tcp=syslog.tcp_address, syslog_tls=syslog.tls_address, syslog_tls_ca=str(pki.ca),
                         retry_base_s=0.05, rate_limit_s=600)
    service = install(collector, config, clock)
    app = create_app(collector)
    mount_routes(app, collector)
    client = TestClient(app, base_url="http://t")
    yield Env(collector, service, client, hook, syslog, clock)
    client.close()
    collector.alerts.close()
    collector.close()
    hook.close()
    syslog.close()


def test_scenario_alerts_reach_webhook_and_syslog_signed_and_masked(
        env: Env, scenario: tuple[list[dict[str, Any]], list[str]]) -> None:
    events, raw_ids = scenario
    agent = SealedAgent(env.collector, "pc-7")
    recorded = agent.restamp(events)
    for i in range(0, len(recorded), 100):
        env.post(agent.seal(recorded[i:i + 100]))
    usb = SealedAgent(env.collector, "pc-8")
    env.post(usb.seal([usb.event("device.mount", mountpoint="E:\\", fs="exFAT", label="U盘", removable=True),
                       usb.event("file.write", path=f"E:\\名单_{RAW_IDS[0]}_{RAW_IDS[2]}.xlsx", op="created",
                                 size=52_000, removable=True)]))

    wait_until(lambda: set(env.rules_delivered("pc-7")) >= SCENARIO_RULES, 20, "the scenario's alerts")
    wait_until(lambda: "removable_write" in env.rules_delivered("pc-8"), 20, "pc-8's removable_write alert")
    assert env.service.wait_idle(20)

    received = env.hook.received
    day = events[0]["ts"][:10]
    stored_seqs = {e["seq"] for e in env.collector.store.timeline("pc-7", day)}
    for item in received:
        assert verify(SECRET, item.body, item.headers[SIGNATURE_HEADER])
        assert not verify("wrong secret", item.body, item.headers[SIGNATURE_HEADER])
        body = item.json()
        alert = body["alert"]
        assert body["event"] == "alert.raised" and item.headers[DELIVERY_HEADER] == body["delivery_id"]
        assert alert["team"] == "cs-a" and alert["severity"] in SYSLOG_SEVERITY and alert["state"] == "open"
        link = re.fullmatch(r"/agents/(pc-[78])/timeline\?date=(\d{4}-\d\d-\d\d)#seq-(\d+)", alert["link"])
        assert link is not None, alert["link"]
        if link.group(1) == "pc-7":
            assert link.group(2) == day and int(link.group(3)) in stored_seqs
        reason = alert["reasons"][0]
        assert reason["value"] >= reason["threshold"] > 0 and "rule threshold" in reason["text"]
    pc7 = env.rules_delivered("pc-7")
    assert len(pc7) == len(set(pc7)), "one delivery per agent, rule and day"
    by_rule = {b["alert"]["rule"]: b["alert"] for b in env.hook.bodies() if b["alert"]["agent_id"] == "pc-7"}
    assert by_rule["ids_to_messaging"]["severity"] == "critical"
    assert by_rule["remote_access"]["evidence"][-1]["what"].startswith("remote access tool")

    wait_until(lambda: len(env.syslog.udp_messages) == len(received) == len(env.syslog.tcp_messages)
               == len(env.syslog.tls_messages), 20, "one syslog message per alert on UDP, TCP and TLS")
    assert env.syslog.tls_errors == []
    for raw in env.syslog.udp_messages + env.syslog.tcp_messages + env.syslog.tls_messages:
        msg = parse_syslog(raw)
        sd = msg["sd"][SD_ID]
        assert msg["facility"] == 10 and msg["app"] == "seatguard" and msg["msgid"] == "alert.raised"
        assert msg["severity"] == SYSLOG_SEVERITY[sd["severity"]] and msg["bom"]
        assert sd["link"] in msg["msg"] and sd["delivery"]
    delivered = {b["alert"]["rule"] for b in env.hook.bodies()}
    for messages in (env.syslog.tcp_messages, env.syslog.tls_messages):
        assert {parse_syslog(m)["sd"][SD_ID]["rule"] for m in messages} == delivered

    everything = b"".join(r.body for r in received) + b"".join(
        env.syslog.udp_messages + env.syslog.tcp_messages + env.syslog.tls_messages)
    for value in RAW_IDS + raw_ids:
        assert value.encode() not in everything
    usb_alert = next(b["alert"] for b in env.hook.bodies() if b["alert"]["rule"] == "removable_write"
                     and b["alert"]["agent_id"] == "pc-8")
    assert "002X" in usb_alert["evidence"][0]["what"] and "*" in usb_alert["evidence"][0]["what"]


def _remote_tool(agent: SealedAgent) -> dict[str, Any]:
    return agent.event("process.start", name="TeamViewer.exe", exe="C:\\TV\\TeamViewer.exe", pid=4242,
                       category="remote_access")


def test_repeats_are_rate_limited_per_agent_and_rule_then_delivered_as_updates(env: Env) -> None:
    agent = SealedAgent(env.collector, "pc-9")
    env.post(agent.seal([_remote_tool(agent)]))
    wait_until(lambda: env.rules_delivered("pc-9") == ["remote_access"], 10, "the first alert")
    env.post(agent.seal([_remote_tool(agent)]))
    env.post(agent.seal([agent.event("process.start", name="obs64.exe", exe="C:\\obs\\obs64.exe", pid=7,
                                     category="screen_capture")]))
    wait_until(lambda: "screen_capture" in env.rules_delivered("pc-9"), 10, "another rule's alert")
    assert env.service.wait_idle(10)
    assert env.rules_delivered("pc-9") == ["remote_access", "screen_capture"], "the repeat was rate-limited"
    stored = {a.rule: a for a in env.service.store.search(agent_id="pc-9")}
    assert stored["remote_access"].value == 2 and stored["remote_access"].repeats == 1

    env.clock.advance(601)
    env.post(agent.seal([_remote_tool(agent)]))
    wait_until(lambda: len(env.hook.bodies()) == 3, 10, "the update after the rate-limit window")
    update = env.hook.bodies()[-1]
    assert update["event"] == "alert.updated" and update["alert"]["rule"] == "remote_access"
    assert update["alert"]["value"] == 3 and update["alert"]["id"] == stored["remote_access"].id


def test_alerts_are_listed_and_acknowledged_within_scope(env: Env) -> None:
    agent = SealedAgent(env.collector, "pc-10")
    env.post(agent.seal([_remote_tool(agent)]))
    wait_until(lambda: env.rules_delivered("pc-10"), 10, "the alert")
    security = env.token("sec", "security")
    own_manager = env.token("mgr-a", "manager", ["cs-a"])
    other_manager = env.token("mgr-b", "manager", ["cs-b"])
    auditor = env.token("aud", "auditor")

    listed = env.client.get("/api/v1/alerts", headers=security).json()["alerts"]
    assert [a["rule"] for a in listed] == ["remote_access"]
    alert_id = listed[0]["id"]
    assert env.client.get("/api/v1/alerts", headers=other_manager).json()["alerts"] == []
    assert env.client.get("/api/v1/alerts", headers=auditor).status_code == 403
    refused = env.client.post(f"/api/v1/alerts/{alert_id}/ack", headers=other_manager, json={"note": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert env.client.post("/api/v1/alerts/999999/ack", headers=security).status_code == 404

    acked = env.client.post(f"/api/v1/alerts/{alert_id}/ack", headers=own_manager, json={"note": "called the agent"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acked" and acked.json()["acked_by"] == "mgr-a"
    assert env.client.get("/api/v1/alerts?state=open", headers=security).json()["alerts"] == []
    assert env.client.get("/api/v1/alerts?state=acked", headers=own_manager).json()["alerts"][0]["id"] == alert_id

    env.clock.advance(3600)
    env.post(agent.seal([_remote_tool(agent)]))
    assert env.service.wait_idle(10)
    assert env.rules_delivered("pc-10") == ["remote_access"], "an acknowledged alert's repeats are not delivered"
    actions = {(r["actor"], r["action"], r["allowed"]) for r in env.collector.access.audit_log()}
    assert {("sec", "read_alerts", True), ("mgr-b", "ack_alert", False), ("mgr-a", "ack_alert", True),
            ("aud", "read_alerts", False)} <= actions


class GateChannel:
    """A channel that holds every delivery until the test opens the gate."""

    name = "webhook"
    durable = True

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.got: list[dict[str, Any]] = []

    def send(self, payload: dict[str, Any]) -> None:
        self.gate.wait(30)
        self.got.append(payload)

    def close(self) -> None:
        self.gate.set()


def test_ingest_never_waits_for_delivery(env: Env) -> None:
    gate = GateChannel()
    service = install(env.collector, AlertConfig(), env.clock, [gate])
    started = datetime.now(UTC)
    for n in range(5):
        agent = SealedAgent(env.collector, f"pc-slow-{n}")
        env.post(agent.seal([_remote_tool(agent)]))
    assert (datetime.now(UTC) - started).total_seconds() < 20
    wait_until(lambda: service.store.counts().get("pending") == 5, 10, "five deliveries queued behind the gate")
    assert gate.got == []
    gate.gate.set()
    assert service.wait_idle(10)
    assert sorted(p["alert"]["agent_id"] for p in gate.got) == [f"pc-slow-{n}" for n in range(5)]
    assert service.store.counts().get("sent") == 5


def test_one_alert_per_agent_day_and_the_rate_limit_spans_days(env: Env) -> None:
    agent = SealedAgent(env.collector, "pc-11")
    yesterday = datetime.now(TZ).replace(hour=11, minute=0) - timedelta(days=1)
    env.post(agent.seal([agent.event("process.start", ts=yesterday, name="AnyDesk.exe", exe="C:\\AnyDesk.exe",
                                     pid=1, category="remote_access"), _remote_tool(agent)]))
    wait_until(lambda: len(env.service.store.search(agent_id="pc-11")) == 2, 10, "one alert per agent-day")
    assert env.service.wait_idle(10)
    stored = sorted(env.service.store.search(agent_id="pc-11"), key=lambda a: a.day)
    assert [a.day for a in stored] == [yesterday.date().isoformat(), datetime.now(TZ).date().isoformat()]
    delivered = [b["alert"]["id"] for b in env.hook.bodies() if b["alert"]["agent_id"] == "pc-11"]
    assert len(delivered) == 1, "the second agent-day's alert came within the agent's rate-limit window"
    quiet = next(a for a in stored if a.id not in delivered)
    assert quiet.suppressed == "rate_limited" and all(date.fromisoformat(a.day) for a in stored)

    env.clock.advance(601)  # past the window, the held-back alert goes out when its rule fires again
    moment = datetime.fromisoformat(f"{quiet.day}T11:30:00+08:00")
    env.post(agent.seal([agent.event("process.start", ts=min(moment, datetime.now(TZ)), name="AnyDesk.exe",
                                     exe="C:\\AnyDesk.exe", pid=2, category="remote_access")]))
    wait_until(lambda: quiet.id in [b["alert"]["id"] for b in env.hook.bodies()], 10, "the held-back alert")
    late = env.hook.bodies()[-1]
    assert late["event"] == "alert.raised" and late["alert"]["suppressed"] is None and late["alert"]["value"] == 2
