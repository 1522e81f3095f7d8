"""The catalog of event kinds: every kind of schema v1 with its fields, once.

Each :class:`Kind` names its fields (type, quantity or text, optional), says when it is emitted (the
schema table of ARCHITECTURE.md), whether it is something the person at the seat did, and what each
consumer does with it where that is not "handles it": the detectors' rollup (``rollup``: why it is
ignored) and the fleet simulator (``simulated``: why it never writes it). The schema's models
(:mod:`contract.schema`), the envelope's :data:`KINDS` and the quantity fields derive from it, and
``tests/test_kind_catalog.py`` checks every consumer (validation, rollup handlers, timeline, ECS
export, simulator) against it.

A new event kind is one :class:`Kind` here, then one handler per consumer: a rollup handler
(``@handles`` in :mod:`detectors.day_events`) or a ``rollup`` reason, a timeline mark
(:mod:`collector.web.timeline_page`) or a ``timeline`` reason, an ECS mapping
(:mod:`collector.alerts.ecs`), and a simulator source or a ``simulated`` reason. The test names
whatever is missing.

This module imports nothing but the standard library: the agent's light running path may read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Field types. Quantities are numbers, never personal data: range-checked, never masked. ``text`` values
# are masked; ``hash`` values are checked to be lowercase hex of their exact length.
QUANTITY_TYPES = frozenset({"count", "size", "seconds", "positive_seconds", "amount"})
FIELD_TYPES = QUANTITY_TYPES | {"text", "preview", "bool", "choice", "hash", "classes"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    optional: bool = False
    choices: tuple[str, ...] = ()  # for ``choice``

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")
        if (self.type == "choice") != bool(self.choices):
            raise ValueError(f"field {self.name!r}: a choice field and only it lists its choices")

    @property
    def quantity(self) -> bool:
        return self.type in QUANTITY_TYPES


@dataclass(frozen=True)
class Kind:
    name: str
    fields: tuple[FieldSpec, ...]
    emitted_when: str
    by_user: bool = False  # something the person at the seat did (not the agent's own bookkeeping)
    rollup: str | None = None  # None: the detectors' rollup has a handler; else why it has none
    simulated: str | None = None  # None: the fleet simulator writes it; else why it never does
    timeline: str | None = None  # None: the timeline draws it (lane or mark); else why it is a table row only
    example: Mapping[str, Any] = field(default_factory=dict)  # valid fields of one such event

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _f(name: str, type_: str, *choices: str, optional: bool = False) -> FieldSpec:
    return FieldSpec(name, type_, optional, tuple(choices))


_DEVICE = (_f("mountpoint", "text"), _f("fs", "text"), _f("label", "text"), _f("removable", "bool"))
_USB = {"mountpoint": "E:\\", "fs": "FAT32", "label": "USB", "removable": True}

CATALOG: tuple[Kind, ...] = (
    Kind("agent.start", (_f("version", "text"), _f("os", "text"), _f("hostname", "text"), _f("user", "text")),
         "the agent process starts",
         timeline="a start begins nothing on the lanes: the first app.focus does (it is a row of the event table)",
         example={"version": "0.1.0", "os": "Windows 11", "hostname": "PC-0042", "user": "chen"}),
    Kind("agent.stop", (_f("reason", "text"),), "the agent process stops cleanly", example={"reason": "shutdown"}),
    Kind("agent.heartbeat", (
        _f("spool_depth", "count"), _f("dropped_total", "count"), _f("cpu_pct", "amount"), _f("rss_mb", "amount"),
        _f("policy_version", "count", optional=True), _f("policy_hash", "hash", optional=True),
        _f("unsigned_answers", "count", optional=True), _f("collector_changes", "count", optional=True),
        _f("insecure_transport", "bool", optional=True)),
        "every 60 s (policy_version, policy_hash, unsigned_answers: optional until every agent verifies "
        "signed answers; collector_changes: starts with another collector URL or key; insecure_transport: "
        "true only when allow_insecure_http lets it use http:// or no TLS checks)",
        timeline="one a minute would bury the marks; silences show as gaps in the lanes (and the table rows)",
        example={"spool_depth": 0, "dropped_total": 0, "cpu_pct": 0.4, "rss_mb": 38.0}),
    Kind("app.focus", (_f("app", "text"), _f("title", "text"), _f("pid", "count")),
         "the foreground window changes (app or title)", by_user=True,
         example={"app": "crm.exe", "title": "Case C-2026-0000001", "pid": 4242}),
    Kind("page.open", (_f("url", "text"), _f("title", "text"), _f("app", "text")),
         "a browser page opens or navigates (browser extension; else a browser title change)", by_user=True,
         example={"url": "https://crm.internal/customers/4401", "title": "customer", "app": "chrome"}),
    Kind("clipboard.copy", (
        _f("app", "text"), _f("title", "text"), _f("trigger", "choice", "hotkey", "menu", "unknown"),
        _f("chars", "count"), _f("classes", "classes"), _f("preview", "preview", optional=True),
        _f("action", "choice", "allowed", "cleared")),
        "a copy or cut is attempted", by_user=True,
        example={"app": "crm.exe", "title": "customer", "trigger": "hotkey", "chars": 18,
                 "classes": {"id_number": 1, "phone": 0, "bank_card": 0}, "action": "allowed"}),
    Kind("input.idle", (_f("threshold_s", "positive_seconds"),), "no input for threshold_s",
         example={"threshold_s": 300.0}),
    Kind("input.active", (_f("idle_s", "seconds"),), "input resumes", by_user=True, example={"idle_s": 420.0}),
    Kind("case.open", (_f("case_id", "text"), _f("app", "text"), _f("title", "text")),
         "a customer case becomes the one in front of the agent", by_user=True,
         example={"case_id": "C-2026-0000001", "app": "crm.exe", "title": "Case C-2026-0000001"}),
    Kind("case.close", (_f("case_id", "text"), _f("active_s", "seconds"), _f("idle_s", "seconds"),
                        _f("wall_s", "seconds")),
         "a customer case stops being the one in front of the agent (handling time)", by_user=True,
         example={"case_id": "C-2026-0000001", "active_s": 240.0, "idle_s": 30.0, "wall_s": 270.0}),
    Kind("file.write", (
        _f("path", "text"), _f("op", "choice", "created", "modified", "moved", "deleted"),
        _f("size", "size", optional=True), _f("removable", "bool"), _f("dest_path", "text", optional=True)),
        "a watched folder or removable drive changes", by_user=True,
        example={"path": "E:\\export.xlsx", "op": "created", "size": 20480, "removable": True}),
    Kind("device.mount", _DEVICE, "a drive appears", by_user=True, example=dict(_USB)),
    Kind("device.unmount", _DEVICE, "a drive disappears",
         rollup="presence only: the mount already counted the drive, and its removal changes no feature",
         example=dict(_USB)),
    Kind("process.start", (
        _f("name", "text"), _f("exe", "text"), _f("pid", "count"),
        _f("category", "choice", "remote_access", "screen_capture", "messaging", "other")),
        "a process starts", by_user=True,
        example={"name": "AnyDesk.exe", "exe": "C:\\Tools\\AnyDesk.exe", "pid": 5150, "category": "remote_access"}),
    Kind("screenshot", (_f("blob_id", "text"), _f("reason", "text"), _f("w", "count"), _f("h", "count")),
         "a policy trigger took a screenshot",
         simulated="a screenshot event names a blob that the agent uploads beside its batch; the simulator "
                   "writes event files only (the screenshot tests seal real blobs)",
         example={"blob_id": "b-0001", "reason": "remote_access_process", "w": 1280, "h": 720}),
)

BY_NAME: dict[str, Kind] = {k.name: k for k in CATALOG}
KIND_NAMES = frozenset(BY_NAME)
ENVELOPE_QUANTITIES = frozenset({"seq"})
QUANTITY_FIELDS = ENVELOPE_QUANTITIES | frozenset(f.name for k in CATALOG for f in k.fields if f.quantity)
USER_KINDS = frozenset(k.name for k in CATALOG if k.by_user)

# Kinds ARCHITECTURE.md's schema table lists that no part of this release emits or accepts yet; the
# collector quarantines them as unknown kinds until they join the catalog with their consumers.
NOT_YET = {
    "agent.tamper": "the session keeper that would report a killed, hung or replaced sensor is not built yet",
    "notice.ack": "the agent shows the monitoring notice but has no acknowledgement step yet",
}

if len(BY_NAME) != len(CATALOG):  # a kind declared twice
    raise RuntimeError("contract.kinds: a kind appears twice in CATALOG")
