"""A validly sealed and signed batch with hostile content never gets a 5xx nor wedges its PC.

Each example seals a batch with the agent's own wire code and enrolled key, full of odd values
(numbers in text fields, strings and huge numbers in quantity fields, deep nesting, NULs, floods),
posts it to a real in-process collector on SQLite and PostgreSQL, then checks that the next normal
batch is stored and that no raw test number shows up in the API answers.
"""

from __future__ import annotations

import tracemalloc
import zlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import wire
from contract.schema import format_ts
from tests.conftest import RAW_IDS
from tests.test_ingest_rejections import Harness, h  # noqa: F401  (fixture)

_PHONE = int(RAW_IDS[2])
_ODD = st.one_of(
    st.sampled_from([*RAW_IDS, _PHONE, 13_900_000_000, -1, 2**64, 1.5e308, 13.9e9 + 0.5, "\x00", "1\x002",
                     True, None, [], {}, "NaN", float(_PHONE) + 0.25]),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.recursive(st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=3), max_leaves=20),
)
_KINDS = st.sampled_from(["app.focus", "file.write", "input.idle", "input.active", "case.close",
                          "clipboard.copy", "agent.heartbeat", "screenshot", "process.start", "no.such"])
_FIELDS = st.sampled_from(["app", "title", "pid", "size", "path", "op", "removable", "threshold_s", "idle_s",
                           "active_s", "wall_s", "case_id", "chars", "classes", "w", "h", "spool_depth",
                           "dropped_total", "cpu_pct", "rss_mb", "blob_id", "reason", "seq", "ts", "agent_id"])


_BASE: dict[str, dict[str, Any]] = {
    "app.focus": {"app": "x", "title": "y", "pid": 1},
    "file.write": {"path": "/tmp/a", "op": "created", "removable": True, "size": 1},
    "input.idle": {"threshold_s": 60},
    "input.active": {"idle_s": 61},
    "case.close": {"case_id": "C1", "active_s": 1, "idle_s": 0, "wall_s": 1},
}


def _deep(n: int) -> Any:
    value: Any = RAW_IDS[0]
    for _ in range(n):
        value = [value]
    return value


def _hostile(harness: Harness, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    harness.seq += 1
    event = {"schema": 1, "agent_id": "pc-1", "seq": harness.seq, "ts": format_ts(datetime.now(UTC)), "kind": kind,
             **_BASE.get(kind, {})}
    event.update(fields)
    if event.get("size") == _PHONE:
        # a file size is the one quantity that may have 11+ digits and is stored as the number it is
        # (quantities are not personal data); the suite's raw numbers stay out of it, so that the
        # privacy scan of the data folder keeps its meaning
        event["size"] = _PHONE + 1
    return event


def _check_next_batch_stored(harness: Harness, batch_seq: int) -> None:
    before = harness.stats()["events"]
    answer = harness.post(harness.seal(batch_seq, harness.events(2)))
    assert answer.status_code == 200, answer.text
    assert harness.stats()["events"] == before + 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(_KINDS, st.dictionaries(_FIELDS, _ODD, max_size=4)), min_size=1, max_size=8))
def test_hostile_events_never_5xx_and_never_wedge(h: Harness, batch: list[tuple[str, dict[str, Any]]]) -> None:  # noqa: F811
    batch_seq = h.batch_seq = getattr(h, "batch_seq", 0) + 1
    answer = h.post(h.seal(batch_seq, [_hostile(h, kind, fields) for kind, fields in batch]))
    assert answer.status_code < 500, answer.text
    h.batch_seq += 1
    _check_next_batch_stored(h, h.batch_seq)
    for path in ("/api/v1/agents",):
        text = h.client.get(path).text
        assert not any(raw in text for raw in RAW_IDS)


def test_quantities_stay_numbers_and_odd_ones_are_quarantined(h: Harness) -> None:  # noqa: F811
    events = [
        _hostile(h, "file.write", {"size": 13_900_000_000}),         # an honest 13.9 GB file: a number
        _hostile(h, "input.idle", {"threshold_s": str(_PHONE)}),    # out of range once read as a number
        _hostile(h, "file.write", {"size": "big"}),                 # a string in a number field
        _hostile(h, "app.focus", {"title": _deep(400)}),            # deep nesting
        _hostile(h, "app.focus", {"title": "a\x00b " + RAW_IDS[1]}),  # NUL (PostgreSQL refuses it raw)
    ]
    answer = h.post(h.seal(1, events))
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] >= 2 and answer.json()["quarantined"] >= 3
    stored = h.collector.store.timeline("pc-1", datetime.now(h.collector.settings.tz).date().isoformat())
    sizes = [e.get("size") for e in stored if e["kind"] == "file.write"]
    assert 13_900_000_000 in sizes
    reasons = " ".join(q["reason"] for q in h.collector.store.quarantined("pc-1"))
    assert "threshold_s" in reasons and "size" in reasons
    _check_next_batch_stored(h, 2)


def test_quarantine_flood_is_capped_and_counted(h: Harness) -> None:  # noqa: F811
    cap = h.collector.settings.max_quarantine_per_batch
    flood = [_hostile(h, "no.such", {}) for _ in range(cap + 300)]
    answer = h.post(h.seal(1, flood))
    assert answer.status_code == 200, answer.text
    assert len(h.collector.store.quarantined("pc-1", limit=10 * cap)) == cap
    assert h.collector.metrics.quarantine_dropped._value.get() == 300
    _check_next_batch_stored(h, 2)


def test_event_count_and_amplification_are_refused_with_codes(h: Harness) -> None:  # noqa: F811
    limit = h.collector.settings.max_batch_events
    many = [{"k": i} for i in range(limit + 1)]
    answer = h.post(h.seal(1, many))
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_many_events"
    # one huge string compresses ~1000:1: refused by the inflate ratio without inflating it all
    h.prev = wire.GENESIS_HASH
    tracemalloc.start()
    bomb = [_hostile(h, "app.focus", {"title": "0" * 40_000_000})]
    body = h.seal(1, bomb)
    del bomb
    tracemalloc.reset_peak()
    answer = h.post(body)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "inflate_ratio", answer.text
    assert peak < 32 * 1024 * 1024
    assert len(zlib.compress(b"0" * 1000)) < 50  # the shape really is an amplification
    h.prev = wire.GENESIS_HASH
    _check_next_batch_stored(h, 1)


def test_events_of_the_first_years_of_the_calendar_are_quarantined_not_a_5xx(h: Harness) -> None:  # noqa: F811
    """A PC clock set to year 1 (or a forged ts): the collector's day of such a moment is outside what a
    datetime holds in its zone (year 0); the event is quarantined, the batch stored, the PC not wedged."""
    events = []
    for ts in ("0001-01-01T00:00:00.000Z", "0001-01-01T00:00:00.000+14:00", "1969-12-31T23:59:59.999Z"):
        event = _hostile(h, "agent.stop", {"reason": "x"})
        event["ts"] = ts
        events.append(event)
    events.append(_hostile(h, "agent.stop", {"reason": "fine"}))
    answer = h.post(h.seal(1, events))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["stored"], answer.json()["quarantined"]) == (1, 3)
    reasons = [q["reason"] for q in h.collector.store.quarantined("pc-1")]
    assert len(reasons) == 3 and all("before 1970" in r for r in reasons), reasons
    _check_next_batch_stored(h, 2)


def test_events_older_than_the_retention_period_are_quarantined(h: Harness) -> None:  # noqa: F811
    """A forged ts per past day would give PostgreSQL a partition per day (and the purge would drop the
    events at once): an event older than ``retention_days`` is quarantined with the reason, its batch stored."""
    from datetime import UTC, datetime, timedelta

    days = h.collector.settings.retention_days
    events = []
    for age in (days + 1, days * 3, 20_000):
        event = _hostile(h, "agent.stop", {"reason": "old"})
        event["ts"] = (datetime.now(UTC) - timedelta(days=age)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        events.append(event)
    recent = _hostile(h, "agent.stop", {"reason": "fine"})
    recent["ts"] = (datetime.now(UTC) - timedelta(days=days - 2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    events.append(recent)
    answer = h.post(h.seal(1, events))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["stored"], answer.json()["quarantined"]) == (1, 3)
    reasons = [q["reason"] for q in h.collector.store.quarantined("pc-1")]
    assert len(reasons) == 3 and all(f"older than the retention period ({days} days)" in r for r in reasons)
    _check_next_batch_stored(h, 2)
