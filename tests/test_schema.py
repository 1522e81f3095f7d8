from __future__ import annotations

import pytest

from contract.errors import InvalidEvent
from contract.schema import KINDS, validate_event

BASE = {"schema": 1, "agent_id": "pc-1", "seq": 1, "ts": "2026-11-24T09:00:00.123+08:00"}
GOOD = {
    "agent.start": {"version": "0.1", "os": "Windows 11", "hostname": "h", "user": "u"},
    "agent.stop": {"reason": "signal"},
    "agent.heartbeat": {"spool_depth": 0, "dropped_total": 0, "cpu_pct": 0.3, "rss_mb": 30.5},
    "app.focus": {"app": "chrome.exe", "title": "CRM", "pid": 12},
    "page.open": {"url": "https://crm.example/c/1", "title": "CRM", "app": "chrome.exe"},
    "clipboard.copy": {"app": "chrome.exe", "title": "CRM", "trigger": "hotkey", "chars": 18,
                       "classes": {"id_number": 1, "phone": 0, "bank_card": 0}, "preview": "****002X",
                       "action": "allowed"},
    "input.idle": {"threshold_s": 300},
    "input.active": {"idle_s": 412.5},
    "case.open": {"case_id": "C-2026-0000001", "app": "chrome.exe", "title": "Case"},
    "case.close": {"case_id": "C-2026-0000001", "active_s": 100, "idle_s": 5, "wall_s": 105},
    "file.write": {"path": "/home/u/Documents/a.xlsx", "op": "created", "size": 10, "removable": False},
    "device.mount": {"mountpoint": "/media/usb", "fs": "vfat", "label": "USB", "removable": True},
    "device.unmount": {"mountpoint": "/media/usb", "fs": "vfat", "label": "USB", "removable": True},
    "process.start": {"name": "AnyDesk.exe", "exe": "C:/AnyDesk.exe", "pid": 9, "category": "remote_access"},
    "screenshot": {"blob_id": "b1", "reason": "remote_access", "w": 640, "h": 360},
}


def test_every_kind_has_a_valid_example() -> None:
    assert set(GOOD) == set(KINDS)
    for kind, fields in GOOD.items():
        event = validate_event({**BASE, "kind": kind, **fields})
        assert event["kind"] == kind and event["seq"] == 1


def test_timestamp_is_normalised_to_milliseconds() -> None:
    event = validate_event({**BASE, "ts": "2026-11-24T01:00:00Z", "kind": "agent.stop", "reason": "x"})
    assert event["ts"] == "2026-11-24T01:00:00.000Z"
    event = validate_event({**BASE, "ts": "2026-11-24T09:00:00.123456+08:00", "kind": "agent.stop", "reason": "x"})
    assert event["ts"] == "2026-11-24T09:00:00.123+08:00"


@pytest.mark.parametrize(("mutation", "reason"), [
    ({"schema": 2}, "unsupported version"),
    ({"agent_id": "bad id!"}, "agent_id"),
    ({"seq": 0}, "seq"),
    ({"seq": True}, "seq"),
    ({"ts": "2026-11-24 09:00:00"}, "ts"),
    ({"ts": "2026-11-24T09:00:00"}, "UTC offset"),
    ({"ts": "2026-02-30T09:00:00.000Z"}, "not a real date"),
    ({"kind": "keylogger.keys"}, "unknown kind"),
])
def test_invalid_envelopes_say_why(mutation: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        validate_event({**BASE, "kind": "agent.stop", "reason": "x", **mutation})


@pytest.mark.parametrize(("kind", "fields", "reason"), [
    ("app.focus", {"app": "x", "title": "y"}, "pid"),
    ("app.focus", {"app": "x", "title": "y", "pid": -1}, "pid"),
    ("clipboard.copy", {**GOOD["clipboard.copy"], "trigger": "keyboard"}, "trigger"),
    ("clipboard.copy", {**GOOD["clipboard.copy"], "preview": "x" * 65}, "preview"),
    ("clipboard.copy", {**GOOD["clipboard.copy"], "text": "raw clipboard"}, "text"),
    ("file.write", {**GOOD["file.write"], "op": "exploded"}, "op"),
])
def test_invalid_fields_say_which(kind: str, fields: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        validate_event({**BASE, "kind": kind, **fields})


def test_missing_fields_and_non_objects() -> None:
    with pytest.raises(InvalidEvent, match="missing field"):
        validate_event({"schema": 1})
    with pytest.raises(InvalidEvent, match="JSON object"):
        validate_event(["not", "an", "object"])
