"""Export of one day's events, alerts and report findings as Elastic Common Schema JSON lines, for
SIEM ingestion (Elastic, Splunk, QRadar).

Each line is one ECS document (ECS :data:`ECS_VERSION`): events are ``event.kind: event`` (heartbeats
``metric``) in dataset ``seatguard.events``; real-time alerts and daily-report findings are
``event.kind: alert`` in ``seatguard.alerts`` / ``seatguard.findings``. What ECS has no field for
stays under the custom ``seatguard.*`` namespace. Values are the stored ones, masked at ingest.

CLI: ``seatguard-collector export-ecs --data DIR --date YYYY-MM-DD [--out FILE]`` (:func:`cmd_export_ecs`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path, PureWindowsPath
from typing import Any, TextIO
from urllib.parse import urlsplit

import orjson

from collector.alerts.model import timeline_link
from collector.errors import CollectorError
from collector.reports import ReportService
from collector.storage.base import Store

ECS_VERSION = "8.11.0"
SEVERITY_NUMBER = {"none": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}
FILE_TYPE = {"created": "creation", "modified": "change", "deleted": "deletion", "moved": "change"}


def _base(kind: str, dataset: str, ts: str, agent_id: str, team: str) -> dict[str, Any]:
    return {"@timestamp": ts, "ecs": {"version": ECS_VERSION},
            "event": {"kind": kind, "module": "seatguard", "dataset": dataset},
            "agent": {"id": agent_id, "type": "seatguard-agent"}, "user": {"group": {"name": team}}}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _kind_fields(e: dict[str, Any]) -> tuple[list[str], list[str], dict[str, Any], dict[str, Any]]:
    """(category, type, ECS fields, custom fields) for one stored v1 event."""
    kind = e["kind"]
    proc = {k: v for k, v in (("name", e.get("app")), ("title", e.get("title")), ("pid", _int(e.get("pid"))))
            if v not in (None, "")}
    if kind == "agent.start":
        return (["process"], ["start"], {"agent": {"version": e.get("version")},
                "host": {"hostname": e.get("hostname"), "os": {"full": e.get("os")}},
                "user": {"name": e.get("user")}}, {})
    if kind == "agent.stop":
        return ["process"], ["end"], {"event": {"reason": e.get("reason")}}, {}
    if kind == "agent.heartbeat":
        return ["host"], ["info"], {}, {"heartbeat": {k: e.get(k) for k in
                                                      ("spool_depth", "dropped_total", "cpu_pct", "rss_mb")}}
    if kind == "app.focus":
        return ["process"], ["info"], {"process": proc}, {}
    if kind == "page.open":
        url = str(e.get("url", ""))
        fields: dict[str, Any] = {"url": {"full": url, "domain": urlsplit(url).hostname or None},
                                  "message": e.get("title"), "process": {"name": e.get("app")}}
        return ["web"], ["access"], fields, {}
    if kind == "clipboard.copy":
        extra = {"clipboard": {k: e.get(k) for k in ("trigger", "chars", "classes", "preview", "action")}}
        return ["host"], ["info"], {"process": proc}, extra
    if kind in ("input.idle", "input.active"):
        return ["session"], ["info"], {}, {"input": {k: e.get(k) for k in ("threshold_s", "idle_s") if k in e}}
    if kind in ("case.open", "case.close"):
        case = {k: e.get(k) for k in ("case_id", "active_s", "idle_s", "wall_s") if k in e}
        fields = {"process": proc} if kind == "case.open" else {}
        wall = _int(e.get("wall_s"))
        if wall is not None:
            fields["event"] = {"duration": int(wall * 1_000_000_000)}
        return ["session"], ["start" if kind == "case.open" else "end"], fields, {"case": case}
    if kind == "file.write":
        path = str(e.get("path", ""))
        win = PureWindowsPath(path)
        file = {"path": path, "name": win.name or None, "directory": str(win.parent) if path else None,
                "size": _int(e.get("size"))}
        extra = {"file": {k: e.get(k) for k in ("op", "removable", "dest_path") if k in e}}
        return ["file"], [FILE_TYPE.get(str(e.get("op")), "change")], {"file": file}, extra
    if kind in ("device.mount", "device.unmount"):
        return ["host"], ["change"], {}, {"device": {k: e.get(k) for k in ("mountpoint", "fs", "label", "removable")}}
    if kind == "process.start":
        fields = {"process": {"name": e.get("name"), "executable": e.get("exe"), "pid": _int(e.get("pid"))}}
        return ["process"], ["start"], fields, {"process": {"category": e.get("category")}}
    if kind == "screenshot":
        return ["host"], ["info"], {}, {"screenshot": {k: e.get(k) for k in ("blob_id", "reason", "w", "h")}}
    return ["host"], ["info"], {}, {}


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _clean(doc: Any) -> Any:
    """Drop empty values (ECS documents leave unknown fields out rather than null)."""
    if isinstance(doc, dict):
        out = {k: _clean(v) for k, v in doc.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, "")}
    return doc


def event_doc(e: dict[str, Any], team: str) -> dict[str, Any]:
    kind = "metric" if e["kind"] == "agent.heartbeat" else "event"
    doc = _base(kind, "seatguard.events", e["ts"], e["agent_id"], team)
    category, types, fields, custom = _kind_fields(e)
    _merge(doc, {"event": {"category": category, "type": types, "action": e["kind"], "sequence": e["seq"],
                           "id": f"{e['agent_id']}:{e['seq']}"}})
    _merge(doc, fields)
    if custom:
        doc["seatguard"] = custom
    return dict(_clean(doc))


def alert_doc(a: dict[str, Any]) -> dict[str, Any]:
    doc = _base("alert", "seatguard.alerts", a["raised_at"], a["agent_id"], a["team"])
    reasons = [str(r["text"]) for r in a.get("reasons", [])]
    _merge(doc, {
        "event": {"category": ["intrusion_detection"], "type": ["info"], "action": a["rule"],
                  "id": f"alert-{a['id']}", "severity": SEVERITY_NUMBER[a["severity"]], "sequence": a["seq"],
                  "reason": reasons[0] if reasons else None, "url": a["link"], "created": a["raised_at"]},
        "rule": {"id": a["rule"], "name": a["rule"], "description": a["title"], "ruleset": "seatguard",
                 "category": "real-time"},
        "message": "; ".join([a["title"], *reasons]),
        "seatguard": {"alert": {k: a.get(k) for k in ("severity", "value", "threshold", "state", "repeats", "date",
                                                      "acked_by", "title_zh", "suppressed")}},
    })
    return dict(_clean(doc))


def finding_doc(f: dict[str, Any], day: str, tz: Any) -> dict[str, Any]:
    start = datetime.combine(date.fromisoformat(day), time(0), tz)
    end = start + timedelta(days=1)
    doc = _base("alert", "seatguard.findings", start.isoformat(), f["agent_id"], f.get("team", ""))
    seqs = [int(e["seq"]) for e in f.get("evidence", []) if "seq" in e]
    _merge(doc, {
        "event": {"category": ["intrusion_detection"], "type": ["info"], "action": "daily_finding",
                  "id": f"finding-{day}-{f['agent_id']}", "severity": SEVERITY_NUMBER.get(f["severity"], 0),
                  "risk_score": float(f["score"]), "start": start.isoformat(), "end": end.isoformat(),
                  "reason": (f.get("reasons") or [None])[0],
                  "url": timeline_link(f["agent_id"], day, seqs[0]) if seqs else None},
        "rule": {"name": list(f.get("rules", [])) or None, "ruleset": "seatguard", "category": "daily-report"},
        "message": "; ".join(f.get("reasons", [])),
        "seatguard": {"finding": {"rank": f.get("rank"), "severity": f["severity"], "score": f["score"],
                                  "label": f.get("label"), "date": day}},
    })
    return dict(_clean(doc))


class EcsExport:
    """One day's ECS documents from what holds them: the store (events, alerts), the reports and the
    collector's time zone and alert link base URL (``alert_base_url``)."""

    def __init__(self, store: Store, reports: ReportService, tz: tzinfo, base_url: str = "") -> None:
        self.store = store
        self.reports = reports
        self.tz = tz
        self.base_url = base_url

    def documents(self, day: str) -> Iterator[dict[str, Any]]:
        try:
            date.fromisoformat(day)
        except ValueError as exc:
            raise CollectorError(f"not a date: {day!r} (expected YYYY-MM-DD)", code="bad_request",
                                 status=400) from exc
        for agent in self.store.list_agents():
            for event in self.store.timeline(agent["agent_id"], day):
                yield event_doc(event, str(agent["team"]))
        for alert in reversed(self.store.alerts.search(day=day, limit=10_000)):
            yield alert_doc(alert.to_dict(self.base_url))
        report = self.reports.get(day)
        for finding in (report or {}).get("findings", []):
            yield finding_doc(finding, day, self.tz)

    def write(self, day: str, out: TextIO) -> dict[str, int]:
        """Write the day's ECS documents to ``out``, one a line; returns the count per dataset."""
        counts = {"seatguard.events": 0, "seatguard.alerts": 0, "seatguard.findings": 0}
        for doc in self.documents(day):
            out.write(orjson.dumps(doc).decode() + "\n")
            counts[doc["event"]["dataset"]] += 1
        return counts


def cmd_export_ecs(args: argparse.Namespace) -> int:
    """``export-ecs --data DIR --date D [--out FILE]``: JSON lines to FILE (written atomically) or stdout."""
    from collector.service import Collector

    collector = Collector.open(args.data)
    export = EcsExport(collector.store, collector.reports, collector.settings.tz, collector.settings.alerts.base_url)
    try:
        if args.out is None:
            counts = export.write(args.date, sys.stdout)
        else:
            out = Path(args.out)
            partial = out.with_name(out.name + ".partial")
            with partial.open("w", encoding="utf-8") as fh:
                counts = export.write(args.date, fh)
            os.replace(partial, out)
    finally:
        collector.close()
    print(f"ECS export for {args.date}: " + ", ".join(f"{n} {k}" for k, n in counts.items()), file=sys.stderr)
    return 0
