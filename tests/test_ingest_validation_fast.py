"""The ingest's fast event validation (collector.event_check) says what the schema's models say.

For valid events of every kind and for many mutations of them (wrong types, bounds and their edges,
missing and unknown fields, other timestamp forms), the fast path returns the same event (same keys in
the same order, same values and types) and the same moment, or refuses with the same reason.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from collector import event_check
from contract import schema
from contract.errors import InvalidEvent

H = "0" * 63 + "a"
VALID: dict[str, dict[str, Any]] = {
    "agent.start": {"version": "1.0", "os": "Windows 10", "hostname": "pc-1", "user": "zhang"},
    "agent.stop": {"reason": "shutdown"},
    "agent.heartbeat": {"spool_depth": 3, "dropped_total": 0, "cpu_pct": 1.5, "rss_mb": 40, "policy_version": 2,
                        "policy_hash": H, "unsigned_answers": 0, "collector_changes": 1, "insecure_transport": False},
    "app.focus": {"app": "crm.exe", "title": "客户详情 身份证 11010519491231002X", "pid": 4242},
    "page.open": {"url": "https://crm.example/customers/42", "title": "c", "app": "chrome.exe"},
    "clipboard.copy": {"app": "crm.exe", "title": "t", "trigger": "hotkey", "chars": 18,
                       "classes": {"id_number": 1}, "preview": "1101***", "action": "allowed"},
    "input.idle": {"threshold_s": 300},
    "input.active": {"idle_s": 12.5},
    "case.open": {"case_id": "C-1", "app": "crm.exe", "title": "case"},
    "case.close": {"case_id": "C-1", "active_s": 100, "idle_s": 0.0, "wall_s": 100.25},
    "file.write": {"path": "E:/a.xlsx", "op": "created", "size": 1024, "removable": True, "dest_path": None},
    "device.mount": {"mountpoint": "E:", "fs": "FAT32", "label": "USB", "removable": True},
    "device.unmount": {"mountpoint": "E:", "fs": "FAT32", "label": "USB", "removable": True},
    "process.start": {"name": "anydesk.exe", "exe": "C:/anydesk.exe", "pid": 7, "category": "remote_access"},
    "screenshot": {"blob_id": "b-1", "reason": "copy", "w": 1920, "h": 1080},
}
VALUES: list[Any] = [None, True, False, 0, -1, 1, 1.5, 5.0, -0.0, "5", "", "x" * 65, "y" * 65537, [], {}, [1],
                     {"a": 1}, 2**53, 2**53 + 1, 10**10 - 1, 10**10, 400 * 86400.0, 400 * 86400.0 + 1,
                     float("inf"), float("nan"), "hotkey", "created", "allowed", "messaging", H, H.upper(), H + "\n"]
TS = ["2026-11-23T10:00:00.000+08:00", "2026-11-23T02:00:00.000Z", "2026-11-23T02:00:00.000+00:00",
      "2026-11-23T02:00:00.000-00:00", "2026-11-23T02:00:00Z", "2026-11-23T02:00:00.123456+05:30",
      "2026-11-23T02:00:00.1-07:00", "2026-11-23T02:00:00.000+24:00", "2026-02-30T02:00:00.000Z",
      "2026-11-23 02:00:00.000Z", "2026-11-23T02:00:00.000", 1700000000, None, "2026-11-23T02:00:00.000+08:00\n"]


def envelope(kind: str, **fields: Any) -> dict[str, Any]:
    return {"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": TS[0], "kind": kind, **fields}


def outcome(fn: Any, obj: Any) -> tuple[str, Any]:
    try:
        event, moment = fn(copy.deepcopy(obj))
    except InvalidEvent as exc:
        return "refused", exc.reason
    return "valid", (list(event.items()), [type(v) for v in event.values()], moment, moment.utcoffset())


def mutations() -> list[dict[str, Any]]:
    out = []
    for kind, fields in VALID.items():
        base = envelope(kind, **fields)
        out.append(base)
        for name in fields:
            out.append({k: v for k, v in base.items() if k != name})
            out.extend({**base, name: value} for value in VALUES)
        out.append({**base, "extra": 1})
        if kind == "clipboard.copy":
            out.extend({**base, "classes": {"phone": value}} for value in VALUES)
            out.append({**base, "classes": {"phone": 1, "other": 2}})
        for key in ("schema", "agent_id", "seq", "kind"):
            out.append({k: v for k, v in base.items() if k != key})
            out.extend({**base, key: value} for value in [*VALUES, "pc 1", "pc-1\n", 1.0, "no.such"])
        out.extend({**base, "ts": ts} for ts in TS)
    return out


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_kind_has_a_fast_path_and_valid_events_take_it(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(event_check.FAST_KINDS) == set(schema.KIND_MODELS) == set(VALID)
    expected = schema.validate_event_at(envelope(kind, **VALID[kind]))

    def no_model(obj: Any) -> Any:
        raise AssertionError("a plain valid event went through the pydantic model")

    monkeypatch.setattr(event_check.schema, "validate_event_at", no_model)
    assert event_check.validate_event_at(envelope(kind, **VALID[kind])) == expected


def test_fast_validation_agrees_with_the_models_on_valid_and_mutated_events() -> None:
    cases = mutations()
    assert len(cases) > 1500
    verdicts = {"valid": 0, "refused": 0}
    for obj in cases:
        fast, slow = outcome(event_check.validate_event_at, obj), outcome(schema.validate_event_at, obj)
        assert fast == slow, obj
        verdicts[fast[0]] += 1
    assert verdicts["valid"] > 200 and verdicts["refused"] > 500  # both sides of the rules were exercised


def test_the_fast_path_returns_what_the_model_dumps_for_coerced_values() -> None:
    """Values the fast path leaves to the model are still normalised by it (a float for an integer
    field, an integer for a float field, defaults of a nested model filled in)."""
    event, _ = event_check.validate_event_at(envelope("agent.heartbeat", spool_depth=3.0, dropped_total=0,
                                                      cpu_pct=2, rss_mb=1))
    assert event["spool_depth"] == 3 and type(event["spool_depth"]) is int
    assert type(event["cpu_pct"]) is float and "policy_hash" not in event
    event, _ = event_check.validate_event_at(envelope("clipboard.copy", **{**VALID["clipboard.copy"],
                                                                          "classes": {}}))
    assert event["classes"] == {"id_number": 0, "phone": 0, "bank_card": 0}
