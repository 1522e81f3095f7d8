"""Every consumer of event kinds against the one catalog (contract.kinds).

Adding a kind to the catalog without its consumers fails here, naming what is missing: the schema
model (derived) and the ingest's fast check compiled from it, a rollup handler or the reason there is
none, a mark on the timeline or the reason there is none, an ECS mapping, and a simulator source or the
reason there is none.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.alerts import ecs
from collector.service import cases_from
from collector.timeline_html import render_timeline
from collector.web.timeline_page import layout
from contract import envelope, kinds, schema
from contract.errors import InvalidEvent
from contract.kinds import BY_NAME, CATALOG, NOT_YET
from contract.schema import validate_event
from detectors.day_events import HANDLERS, USER_KINDS

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-03-12"
NAMES = sorted(BY_NAME)


def event(kind: str, at: str = "09:10:00", seq: int = 2, **fields: Any) -> dict[str, Any]:
    return {"schema": 1, "agent_id": "pc-1", "seq": seq, "ts": f"{DAY}T{at}.000+08:00", "kind": kind,
            **(fields or dict(BY_NAME[kind].example))}


# ------------------------------------------------------------------ the catalog itself

def test_the_catalog_is_the_schema_table_of_the_architecture() -> None:
    doc = next((p for p in (ROOT.parent / "shared" / "ARCHITECTURE.md", Path("/work/shared/ARCHITECTURE.md"))
                if p.exists()), None)
    if doc is None:
        pytest.skip("ARCHITECTURE.md (shared/) is not beside this checkout")
    table = doc.read_text(encoding="utf-8").split("| kind | fields | emitted when |", 1)[1].split("\n\n", 1)[0]
    documented: dict[str, set[str]] = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names, field_groups = cells[0].split(" / "), cells[1].split(" / ")
        for i, name in enumerate(names):
            words = field_groups[min(i, len(field_groups) - 1)]
            words = re.sub(r"\([^)]*\)", "", words)  # drop "(hotkey/menu/unknown)" and such notes
            documented[name.strip()] = {w for w in re.findall(r"[a-z_]+", words) if w not in {"optional"}}
    assert set(documented) == set(BY_NAME) | set(NOT_YET), "the catalog and ARCHITECTURE.md list other kinds"
    for name, kind in BY_NAME.items():
        missing = documented[name] - set(kind.field_names()) - {"id_number", "phone", "bank_card"}
        assert not missing, f"{name}: ARCHITECTURE.md documents fields the catalog lacks: {sorted(missing)}"
    assert not set(NOT_YET) & set(BY_NAME)


@pytest.mark.parametrize("name", NAMES)
def test_every_kind_says_when_it_is_emitted_and_has_a_valid_example(name: str) -> None:
    kind = BY_NAME[name]
    assert kind.emitted_when and kind.example
    assert set(kind.example) <= set(kind.field_names())
    assert {f.name for f in kind.fields if not f.optional} <= set(kind.example), "the example lacks a field"


# ------------------------------------------------------------------ validation (contract.schema)

def test_validation_and_the_envelope_derive_from_the_catalog() -> None:
    assert envelope.KINDS == schema.KINDS == frozenset(schema.KIND_MODELS) == kinds.KIND_NAMES
    for kind in CATALOG:
        model = schema.KIND_MODELS[kind.name]
        assert list(model.model_fields) == list(kind.field_names()), kind.name
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        assert required == {f.name for f in kind.fields if not f.optional}, kind.name
    assert schema.QUANTITY_FIELDS == kinds.QUANTITY_FIELDS
    assert {"seq", "pid", "size", "chars", "w", "h", "idle_s", "cpu_pct", "policy_version"} <= schema.QUANTITY_FIELDS
    assert not {"app", "title", "url", "case_id", "path", "policy_hash"} & schema.QUANTITY_FIELDS


@pytest.mark.parametrize("name", NAMES)
def test_validation_accepts_every_catalog_kind_and_checks_its_fields(name: str) -> None:
    kind = BY_NAME[name]
    valid = validate_event(event(name))
    assert valid["kind"] == name and all(k in valid for k in kind.example)
    for spec in kind.fields:
        if spec.optional:
            continue
        broken = event(name)
        broken.pop(spec.name, None)
        with pytest.raises(InvalidEvent, match=re.escape(spec.name)):
            validate_event(broken)
    with pytest.raises(InvalidEvent, match="not_in_the_catalog"):
        validate_event({**event(name), "not_in_the_catalog": 1})
    for spec in kind.fields:
        if spec.quantity:
            with pytest.raises(InvalidEvent):
                validate_event({**event(name), spec.name: -1})


@pytest.mark.parametrize("name", [*sorted(NOT_YET), "app.blur", "", "APP.FOCUS"])
def test_validation_refuses_kinds_outside_the_catalog(name: str) -> None:
    with pytest.raises(InvalidEvent, match="unknown kind"):
        validate_event({**event("app.focus"), "kind": name})


def test_the_ingest_fast_check_compiles_every_kind_and_agrees_with_the_models() -> None:
    from collector import event_check

    slow = kinds.KIND_NAMES - set(event_check.FAST_KINDS)
    assert not slow, f"kinds the ingest's fast check cannot compile (collector/event_check.py): {sorted(slow)}"
    for name in NAMES:
        assert event_check.validate_event_at(event(name))[0] == validate_event(event(name)), name
    with pytest.raises(InvalidEvent, match="unknown kind"):
        event_check.validate_event_at({**event("app.focus"), "kind": "agent.tamper"})


# ------------------------------------------------------------------ the detectors' rollup

def test_the_rollup_handles_every_kind_or_the_catalog_says_why_not() -> None:
    without = {k.name for k in CATALOG if k.rollup is None} - set(HANDLERS)
    assert not without, f"kinds without a rollup handler (add @handles or a rollup reason): {sorted(without)}"
    both = {k.name for k in CATALOG if k.rollup is not None} & set(HANDLERS)
    assert not both, f"kinds with a handler and a reason to have none: {sorted(both)}"
    assert set(HANDLERS) <= kinds.KIND_NAMES, "a rollup handler for a kind outside the catalog"
    assert set(USER_KINDS) == kinds.USER_KINDS, "the rollup's user kinds and the catalog's by_user disagree"


# ------------------------------------------------------------------ the timeline (web page and HTML export)

def _drawn(events: list[dict[str, Any]]) -> tuple[Any, ...]:
    view = layout({"agent_id": "pc-1", "date": DAY, "events": events, "cases": cases_from(events)}, {}, TZ)
    lanes = view["lanes"] if isinstance(view, dict) and "lanes" in view else view
    return tuple(repr(lane) for lane in lanes) if isinstance(lanes, list) else (repr(view),)


@pytest.mark.parametrize("name", NAMES)
def test_the_timeline_draws_every_kind_or_the_catalog_says_why_not(name: str) -> None:
    around = [event("app.focus", "09:00:00", 1), event("app.focus", "09:20:00", 3, app="notepad.exe", title="n",
                                                       pid=9)]
    with_it = [around[0], event(name), around[1]]
    drawn = _drawn(with_it) != _drawn(around)
    reason = BY_NAME[name].timeline
    assert drawn or reason, f"{name}: the timeline neither draws it nor does the catalog say why"
    assert not (drawn and reason), f"{name}: the timeline draws it, but the catalog says it does not"
    html = render_timeline({"agent_id": "pc-1", "date": DAY, "events": with_it, "cases": cases_from(with_it)}, TZ)
    assert name in html  # every event at least has its row in the event table


# ------------------------------------------------------------------ the ECS export (SIEM)

@pytest.mark.parametrize("name", NAMES)
def test_the_ecs_export_maps_every_kind(name: str) -> None:
    doc = ecs.event_doc(validate_event(event(name)), "cs-a")
    fallback = ecs.event_doc({**validate_event(event("agent.stop")), "kind": "not.a.kind", "reason": ""}, "cs-a")
    assert doc["event"]["action"] == name
    specific = {k: v for k, v in doc.items() if k not in ("@timestamp", "event", "agent", "ecs", "labels", "observer")}
    generic = {k: v for k, v in fallback.items()
               if k not in ("@timestamp", "event", "agent", "ecs", "labels", "observer")}
    assert specific != generic or doc["event"].get("category") != fallback["event"].get("category"), \
        f"{name}: the ECS export has no mapping for it (collector/alerts/ecs.py)"


# ------------------------------------------------------------------ the fleet simulator

@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    from simulator import ScenarioSpec, simulate

    out = tmp_path_factory.mktemp("fleet")
    scenarios = [("bulk_id_copy", 1, -1), ("usb_export", 2, -2), ("browse_without_case", 3, -3),
                 ("after_hours", 4, -1), ("remote_access", 5, -2), ("screen_recorder", 6, -3),
                 ("idle_free_no_work", 7, -1), ("killed_mid_shift", 8, -2)]
    simulate(out, agents=10, days=3, seed=7, end=date(2026, 3, 13),
             scenarios=[ScenarioSpec(n, i, o) for n, i, o in scenarios])
    found: set[str] = set()
    for path in (out / "events").glob("*.jsonl"):
        found |= set(re.findall(r'"kind":"([^"]+)"', path.read_text(encoding="utf-8")))
    return found


def test_the_simulator_writes_only_catalog_kinds_and_every_kind_not_listed_as_unsimulated(
        simulated: set[str]) -> None:
    assert simulated, "the simulator wrote no event"
    outside = simulated - kinds.KIND_NAMES
    assert not outside, f"the simulator writes kinds outside the catalog: {sorted(outside)}"
    unsimulated = {k.name for k in CATALOG if k.simulated is not None}
    missing = kinds.KIND_NAMES - simulated - unsimulated
    assert not missing, f"kinds a PC emits that the simulator never writes (write them or say why): {sorted(missing)}"
    assert not simulated & unsimulated, f"listed as never simulated, but written: {sorted(simulated & unsimulated)}"
