"""The ECS export: every document's fields are ECS fields of the right type (or custom ``seatguard.*``),
the categorisation values are ECS's allowed ones, and nothing unmasked leaves."""

from __future__ import annotations

import argparse
import io
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.alerts import AlertConfig
from collector.alerts.ecs import EcsExport, cmd_export_ecs
from collector.errors import CollectorError
from simulator.fleet import ScenarioSpec, simulate
from simulator.testing.alerts import SealedAgent, install, open_collector
from tests.conftest import DATA_DIRS, RAW_IDS

# The ECS fields the export uses, with their ECS (8.x) field types.
ECS_FIELDS = {
    "@timestamp": "date", "message": "match_only_text", "ecs.version": "keyword",
    "event.kind": "keyword", "event.category": "keyword", "event.type": "keyword", "event.action": "keyword",
    "event.module": "keyword", "event.dataset": "keyword", "event.id": "keyword", "event.sequence": "long",
    "event.severity": "long", "event.risk_score": "float", "event.duration": "long", "event.reason": "keyword",
    "event.url": "keyword", "event.created": "date", "event.start": "date", "event.end": "date",
    "agent.id": "keyword", "agent.type": "keyword", "agent.version": "keyword",
    "host.hostname": "keyword", "host.os.full": "keyword", "user.name": "keyword", "user.group.name": "keyword",
    "process.name": "keyword", "process.title": "keyword", "process.executable": "keyword", "process.pid": "long",
    "url.full": "wildcard", "url.domain": "keyword",
    "file.path": "keyword", "file.name": "keyword", "file.directory": "keyword", "file.size": "long",
    "rule.id": "keyword", "rule.name": "keyword", "rule.description": "keyword", "rule.ruleset": "keyword",
    "rule.category": "keyword",
}
# ECS's allowed values of the categorisation fields.
ALLOWED = {
    "event.kind": {"alert", "enrichment", "event", "metric", "state", "pipeline_error", "signal"},
    "event.category": {"api", "authentication", "configuration", "database", "driver", "file", "host", "iam",
                       "intrusion_detection", "library", "malware", "network", "package", "process", "registry",
                       "session", "threat", "vulnerability", "web"},
    "event.type": {"access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied", "device",
                   "end", "error", "group", "indicator", "info", "installation", "protocol", "start", "user"},
}
ARRAYS = {"event.category", "event.type"}
# ECS's expected event types for each category the export uses (the categorisation reference pages).
EXPECTED_TYPES = {
    "file": {"access", "change", "creation", "deletion", "info"},
    "host": {"access", "change", "end", "info", "start"},
    "intrusion_detection": {"allowed", "denied", "info"},
    "process": {"access", "change", "end", "info", "start"},
    "session": {"start", "end", "info"},
    "web": {"access", "error", "info"},
}


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("keyword", "wildcard", "match_only_text"):
        values = value if isinstance(value, list) else [value]
        return bool(values) and all(isinstance(v, str) and v for v in values)
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "date":
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    raise AssertionError(kind)


def validate(doc: dict[str, Any]) -> None:
    flat = _flatten(doc)
    for name in ("@timestamp", "ecs.version", "event.kind", "event.dataset", "agent.id"):
        assert name in flat, f"{name} missing from {doc}"
    for name, value in flat.items():
        if name.startswith("seatguard."):
            continue  # the custom namespace
        assert name in ECS_FIELDS, f"{name} is not one of the ECS fields the export may use"
        assert _type_ok(ECS_FIELDS[name], value), f"{name}={value!r} is not an ECS {ECS_FIELDS[name]}"
        if name in ALLOWED:
            values = value if isinstance(value, list) else [value]
            assert set(values) <= ALLOWED[name], f"{name}={value!r} is not an allowed value"
        if name in ARRAYS:
            assert isinstance(value, list)
    for category in flat.get("event.category", []):
        assert category in EXPECTED_TYPES, f"category {category} is not one the export is meant to use"
        assert set(flat.get("event.type", [])) <= EXPECTED_TYPES[category], \
            f"event.type {flat.get('event.type')} is not expected with event.category {category}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ecs")
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    simulate(root / "sim", agents=2, days=1, seed=5, end=day, scenarios=[
        ScenarioSpec("bulk_id_copy", 0, 0), ScenarioSpec("usb_export", 0, 0), ScenarioSpec("killed_mid_shift", 1, 0)])
    collector = open_collector(root / "c")
    DATA_DIRS.append(root / "c")
    service = install(collector, AlertConfig(wall="off"))
    try:
        raw_ids = (root / "sim" / "raw_identifiers.txt").read_text("utf-8").split()
        for path in sorted((root / "sim" / "events").glob("*.jsonl")):
            agent = SealedAgent(collector, path.stem)
            events = agent.restamp([json.loads(x) for x in path.read_text("utf-8").splitlines()])
            events.append(agent.event("file.write", ts=datetime.fromisoformat(events[-1]["ts"]),
                                      path=f"E:\\导出\\{RAW_IDS[1]}.csv", op="created", size=1200, removable=True))
            for i in range(0, len(events), 200):
                collector.ingest.handle(agent.seal(events[i:i + 200]))
        assert service.wait_idle(20)
        collector.reports.build(day.isoformat())
        buffer = io.StringIO()
        counts = EcsExport(collector.store, collector.reports, collector.settings.tz,
                           collector.settings.alerts.base_url).write(day.isoformat(), buffer)
    finally:
        service.close()
        collector.close()
    out = root / "export.jsonl"
    assert cmd_export_ecs(argparse.Namespace(data=root / "c", date=day.isoformat(), out=out)) == 0
    return {"counts": counts, "text": buffer.getvalue(), "file": out.read_text("utf-8"), "raw": raw_ids}


def test_every_document_has_ecs_fields_of_the_right_type(exported: dict[str, Any]) -> None:
    docs = [json.loads(line) for line in exported["text"].splitlines()]
    counts = exported["counts"]
    assert len(docs) == sum(counts.values())
    assert counts["seatguard.events"] > 1000 and counts["seatguard.alerts"] >= 4 and counts["seatguard.findings"] >= 1
    for doc in docs:
        validate(doc)
    kinds = {d["event"]["action"] for d in docs if d["event"]["dataset"] == "seatguard.events"}
    assert {"agent.start", "app.focus", "page.open", "clipboard.copy", "file.write", "process.start",
            "agent.heartbeat", "case.open", "case.close"} <= kinds
    alert_rules = {d["rule"]["name"] for d in docs if d["event"]["dataset"] == "seatguard.alerts"}
    assert {"bulk_id_copy", "removable_write"} <= alert_rules
    assert all(d["event"]["kind"] == "alert" for d in docs if d["event"]["dataset"] != "seatguard.events")


def test_the_cli_writes_the_same_documents_and_nothing_unmasked(exported: dict[str, Any]) -> None:
    assert exported["file"] == exported["text"]
    for value in RAW_IDS + exported["raw"]:
        assert value not in exported["text"]
    usb = [json.loads(x) for x in exported["text"].splitlines() if '"file.write"' in x and "导出" in x]
    assert usb and all(d["file"]["name"].endswith(RAW_IDS[1][-4:] + ".csv") for d in usb)
    assert all(d["event"]["type"] == ["creation"] and d["seatguard"]["file"]["removable"] for d in usb)


def test_a_bad_date_is_refused(tmp_path: Path) -> None:
    collector = open_collector(tmp_path / "c")
    DATA_DIRS.append(tmp_path / "c")
    try:
        with pytest.raises(CollectorError, match="not a date"):
            EcsExport(collector.store, collector.reports, collector.settings.tz).write("2026-13-40", io.StringIO())
    finally:
        collector.close()
