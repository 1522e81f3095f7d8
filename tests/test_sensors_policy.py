"""The policy table and the sensor registry."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent.sensors import (
    SENSORS,
    AgentPolicy,
    PolicyError,
    Sensor,
    SensorError,
    SensorSet,
    load_entry_points,
    register,
)
from agent.sensors.policy import SCREENSHOT_TRIGGERS, settings_table
from agent.sensors.registry import BUILTIN_SENSORS
from simulator.testing.sensors import ListSink


def test_defaults_follow_the_issue() -> None:
    policy = AgentPolicy()
    assert policy.idle_threshold_s == 300.0
    assert policy.watched_paths() == [Path.home() / "Downloads", Path.home() / "Desktop", Path.home() / "Documents"]
    assert policy.clear_sensitive_copies is False
    assert policy.screenshot_triggers == ("remote_access_process", "screen_capture_process",
                                          "messaging_after_sensitive_copy")  # what a new collector hands out
    assert policy.category_of("AnyDesk") == "remote_access"
    assert policy.category_of("TeamViewer.exe") == "remote_access"
    assert policy.category_of("obs64.exe") == "screen_capture"
    assert policy.category_of("WeChat.exe") == "messaging"
    assert policy.category_of("bash", "/usr/bin/bash") == "other"


def test_round_trip_and_unknown_keys_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="contract.policy")
    policy = AgentPolicy(case_id_patterns=[r"CASE-(\d{6})"], allowed_sites=["*.lender.example"],
                         idle_threshold_s=2, screenshot_triggers=["sensitive_copy"])
    data = policy.to_dict()
    assert data["idle_threshold_s"] == 2.0
    assert AgentPolicy.from_dict(data) == policy
    assert AgentPolicy.from_dict({**data, "from_a_newer_collector": 1}) == policy
    assert "policy keys this release does not know: from_a_newer_collector" in caplog.text


@pytest.mark.parametrize(("data", "message"), [
    ({"case_id_patterns": ["(unclosed"]}, "bad regular expression"),
    ({"case_id_patterns": "CASE-\\d+"}, "list of strings"),
    ({"screenshot_triggers": ["every_minute"]}, "unknown trigger"),
    ({"idle_threshold_s": True}, "must be a number"),
    ({"idle_threshold_s": 0}, "> 0"),
    ({"screenshot_max_width": 0}, ">= 1"),
    ({"extension_port": 70000}, "<= 65535"),
    ({"clear_sensitive_copies": "yes"}, "true or false"),
    ({"process_categories": {"games": ["*"]}}, "unknown categories"),
])
def test_bad_policies_are_refused_with_a_reason(data: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        AgentPolicy.from_dict(data)
    with pytest.raises(PolicyError):
        AgentPolicy.from_dict(["not", "an", "object"])  # type: ignore[arg-type]


def test_every_setting_is_documented_in_the_table() -> None:
    table = settings_table()
    assert [row[0] for row in table] == list(AgentPolicy().to_dict())
    for name, kind, _default, help_text in table:
        assert kind and help_text.endswith("."), name
    assert all(t in dict((r[0], r[3]) for r in table)["screenshot_triggers"] for t in SCREENSHOT_TRIGGERS)


def test_questions_the_sensors_ask() -> None:
    policy = AgentPolicy(case_id_patterns=[r"/case/(\d+)", r"CASE-\d{4}"], allowed_sites=["*.lender.example"],
                         customer_url_patterns=[r"^https://crm\.lender\.example/customer/(\d+)"],
                         sensitive_apps=["crm*"], allowed_apps=["crm*", "chrom*"])
    assert policy.find_case_id("Loan CASE-2041 - CRM") == "CASE-2041"
    assert policy.find_case_id("", "https://crm.lender.example/case/778?tab=2") == "778"
    assert policy.find_case_id("Inbox") is None
    assert policy.is_allowed_site("https://crm.lender.example/x")
    assert not policy.is_allowed_site("https://paste.example.org/")
    assert policy.is_customer_url("https://crm.lender.example/customer/12")
    assert policy.find_customer("https://crm.lender.example/customer/12?tab=2") == "12"
    assert not policy.is_customer_url("https://crm.lender.example/cases/12")
    assert policy.is_sensitive_app("CRM.exe") and not policy.is_sensitive_app("notepad.exe")
    assert policy.is_allowed_app("chromium") and not policy.is_allowed_app("AnyDesk")
    assert AgentPolicy(allowed_apps=[]).is_allowed_app("anything")


def test_builtins_are_registered_like_extensions() -> None:
    assert BUILTIN_SENSORS == ("focus", "idle", "clipboard", "cases", "files", "devices", "processes",
                               "screenshots", "extension_bridge")
    assert all(SENSORS[name].name == name for name in BUILTIN_SENSORS)


class _Echo(Sensor):
    """An extension sensor: emits one app.focus at start and counts what it observes."""

    name = "test_echo"
    observes: ClassVar[frozenset[str]] = frozenset({"app.focus"})
    seen: list[str]

    def start(self) -> None:
        self.seen = []
        self.emit("app.focus", {"app": "crm", "title": "CASE-0001", "pid": 1})

    def stop(self) -> None:
        self.emit("agent.stop", {"reason": "test"})

    def observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> None:
        self.seen.append(kind)


def test_an_extension_sensor_registers_and_is_wired_to_the_others() -> None:
    register(_Echo)
    try:
        with pytest.raises(SensorError, match="already taken"):
            register(type("Other", (_Echo,), {"name": "test_echo"}))
        sink = ListSink()
        sensors = SensorSet(sink, AgentPolicy(case_id_patterns=[r"CASE-\d{4}"]), names=["cases", "test_echo"])
        sensors.start()
        echo = sensors["test_echo"]
        assert isinstance(echo, _Echo) and echo.seen == ["app.focus"]
        sensors.stop()
        assert [r.kind for r in sink.records] == ["app.focus", "case.open", "agent.stop", "case.close"]
        assert sensors.status()["cases"]["available"] is True
        sink.as_v1()
    finally:
        del SENSORS["test_echo"]
    with pytest.raises(SensorError, match="unknown sensor"):
        SensorSet(ListSink(), AgentPolicy(), names=["nope"])


def test_blob_capability_passes_through_the_wiring() -> None:
    class PlainSink:
        def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None:
            pass

    assert hasattr(SensorSet(ListSink(), AgentPolicy(), names=["screenshots"]).fanout, "emit_blob")
    plain = SensorSet(PlainSink(), AgentPolicy(screenshot_triggers=["sensitive_copy"]), names=["screenshots"])
    assert not hasattr(plain.fanout, "emit_blob")
    plain.start()
    assert plain.status()["screenshots"] == {
        "available": False, "why": "the event sink cannot keep screenshots (no emit_blob)", "emitted": 0,
        "errors": 0, "triggers": ["sensitive_copy"], "suppressed": 0}
    plain.stop()


def test_entry_points_of_installed_packages_are_loaded() -> None:
    assert load_entry_points("seatguard.sensors.none-installed") == []


def test_the_runner_factory_builds_wired_sensors_from_the_collector_policy(
        caplog: pytest.LogCaptureFixture) -> None:
    from agent.sensors.factory import build_sensors

    sink = ListSink()
    sensors = build_sensors(sink, {"version": 3, "case_id_patterns": [r"CASE-\d{4}"]}, names=["focus", "cases"])
    assert [s.name for s in sensors] == ["focus", "cases"]  # both observe: registry order
    assert sensors[1].policy.case_id_patterns == (r"CASE-\d{4}",)
    fallback = build_sensors(sink, {"idle_threshold_s": "five minutes"}, names=["idle"])
    assert fallback[0].policy == AgentPolicy()
    assert "sensors run with the default policy" in caplog.text
    ordered = build_sensors(sink, {}, names=["processes", "screenshots", "devices", "files"])
    assert [s.name for s in ordered] == ["screenshots", "files", "processes", "devices"]
