"""Differential test: the ingest's fast event validation (collector.event_check) against the models.

Hypothesis builds hostile events from every catalog kind's example: fields replaced by values of the
wrong JSON type, bools for numbers, NaN and infinities, huge and negative numbers, nested objects and
lists where text is expected, unicode tricks (lone surrogates, non-ASCII digits, combining marks,
overlong texts), timestamps of every near-RFC-3339 form, seq at and past its bounds, unknown kinds,
copy classes with odd keys and values, hashes of the wrong length or case, extra and missing fields.
For each, the fast path and :func:`contract.schema.validate_event_at` must return the same event (the
same keys in the same order and values of the same type, compared through ``repr``) and the same
moment, or refuse with the same reason.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector import event_check
from contract import kinds, schema
from contract.errors import InvalidEvent

H = "0" * 63 + "a"
BASES: dict[str, dict[str, Any]] = {k.name: dict(k.example) for k in kinds.CATALOG}
BASES["agent.heartbeat"].update(policy_hash=H)  # the optional hash is present in one base at least
FIELDS = {k.name: [f.name for f in k.fields] for k in kinds.CATALOG}
CHOICES = sorted({c for k in kinds.CATALOG for f in k.fields for c in f.choices})

EDGE_INTS = [0, 1, -1, 2**31, 2**53, 2**53 + 1, 2**63, 2**64, 10**10 - 1, 10**10, 10**30, -(2**63) - 1]
EDGE_FLOATS = [0.0, -0.0, 1e-320, 5e-324, 0.5, 1.5, 400 * 86400.0, 400 * 86400.0 + 1, 1e10, 9999999999.0,
               9999999999.5, 2.0**53, 1e308, float("inf"), float("-inf"), float("nan")]
TRICK_TEXTS = ["", " ", "\n", "\x00", "\ud800", "a\udfffb", "\U0001f600", "é", "e\u0301", "\u202e", "٢٠٢٦",
               "x" * 64, "x" * 65, "y" * 65536, "y" * 65537, "\U0001f600" * 65536, H, H.upper(), H[:-1],
               H + "0", H + "\n", "\n" + H, "g" * 64, "０" * 64, *CHOICES, "Hotkey", "hotkey "]

texts = st.one_of(st.sampled_from(TRICK_TEXTS), st.text(st.characters(codec=None), max_size=80),
                  st.builds(lambda n, tail: "z" * n + tail, st.integers(65500, 65536),
                            st.text(st.characters(codec=None), max_size=40)))
numbers = st.one_of(st.sampled_from(EDGE_INTS), st.integers(), st.sampled_from(EDGE_FLOATS),
                    st.floats(allow_nan=True, allow_infinity=True))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["phone", "id_number", "bank_card", "x", ""]),
                                                 inner, max_size=4)), max_leaves=6)
classes = st.dictionaries(st.sampled_from(["id_number", "phone", "bank_card", "other", "Phone", ""]),
                          st.one_of(st.sampled_from(EDGE_INTS), numbers, st.booleans(), st.none(), texts),
                          max_size=4)
field_values = st.one_of(json_values, classes)


@st.composite
def timestamps(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    digits = st.sampled_from(["0", "1", "2", "5", "9", "٢", "０"])
    year = draw(st.sampled_from(["2026", "0001", "9999", "0000", "١٢٣٤", "2O26"]))
    month = draw(st.sampled_from(["11", "01", "12", "00", "13", "02"]))
    day_ = draw(st.sampled_from(["23", "01", "28", "29", "30", "31", "32", "00"]))
    sep = draw(st.sampled_from(["T", "T", "T", "t", " ", "_"]))
    hh = draw(st.sampled_from(["02", "00", "23", "24", "25"]))
    mm = draw(st.sampled_from(["00", "59", "60"]))
    ss = draw(st.sampled_from(["00", "59", "60", "61"]))
    frac = draw(st.sampled_from(["", ".", ".1", ".12", ".123", ".1234", ".123456", ".123456789", ".1234567890",
                                 ",123"]))
    if frac and draw(st.booleans()):
        frac = frac[0] + "".join(draw(digits) for _ in frac[1:])
    off = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+08:00", "-07:00", "+05:30", "+23:59", "-23:59",
                                "+24:00", "+0800", "+08", "+08:00:00", "", "+08:60", "UTC"]))
    tail = draw(st.sampled_from(["", "", "", "\n", " ", "Z"]))
    return f"{year}-{month}-{day_}{sep}{hh}:{mm}:{ss}{frac}{off}{tail}"


@st.composite
def hostile_events(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(sorted(BASES)))
    event: dict[str, Any] = {"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.000+08:00",
                             "kind": kind, **copy.deepcopy(BASES[kind])}
    for name in draw(st.lists(st.sampled_from(FIELDS[kind]), max_size=3, unique=True)):
        if draw(st.integers(0, 5)) == 0:
            event.pop(name, None)
        else:
            event[name] = draw(field_values)
    if draw(st.integers(0, 3)) == 0:
        event["ts"] = draw(timestamps())
    if draw(st.integers(0, 5)) == 0:
        key = draw(st.sampled_from(["schema", "agent_id", "seq", "kind"]))
        if draw(st.integers(0, 4)) == 0:
            del event[key]
        else:
            event[key] = draw(st.one_of(field_values, st.sampled_from(
                [1.0, 0, 2, 10**10 - 1, 10**10, "pc 1", "pc-1\n", "a" * 64, "a" * 65, "no.such", "Agent.Stop",
                 *sorted(BASES)])))
    if draw(st.integers(0, 6)) == 0:
        event[draw(st.sampled_from(["extra", "", "Reason", *sorted({n for f in FIELDS.values() for n in f})]))] = (
            draw(field_values))
    return event


def outcome(fn: Any, obj: Any) -> tuple[str, str]:
    try:
        event, moment = fn(copy.deepcopy(obj))
    except InvalidEvent as exc:
        return "refused", exc.reason
    return "valid", repr((list(event.items()), moment, moment.utcoffset()))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.data_too_large])
@given(hostile_events())
@example({"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.000+08:00", "kind": "agent.stop",
          "reason": "\ud800"})
@example({"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.000+08:00",
          "kind": "clipboard.copy", **{**BASES["clipboard.copy"], "preview": "a\udfff"}})
def test_fast_validation_and_the_models_agree_on_hostile_events(event: Any) -> None:
    assert outcome(event_check.validate_event_at, event) == outcome(schema.validate_event_at, event)


def outcome_s(obj: Any) -> tuple[str, str]:
    """What ingest's reading (:func:`collector.event_check.validate_event_s`) makes of ``obj``, in the
    terms of :func:`outcome` on the models: the event, its moment in POSIX seconds, and whether the
    returned ts reads back to that moment."""
    try:
        event, at, exact = event_check.validate_event_s(copy.deepcopy(obj), "pc-1")
    except InvalidEvent as exc:
        return "refused", exc.reason
    return "valid", repr((list(event.items()), at, exact))


def outcome_models_s(obj: Any) -> tuple[str, str]:
    try:
        event, moment = schema.validate_event_at(copy.deepcopy(obj))
    except InvalidEvent as exc:
        return "refused", exc.reason
    return "valid", repr((list(event.items()), moment.timestamp(), moment.microsecond % 1000 == 0))


TS_FORMS = st.builds(
    lambda y, mo, d, h, mi, s, frac, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{off}",
    st.sampled_from([1, 1969, 1970, 2000, 2026, 2038, 9999]), st.integers(0, 13), st.integers(0, 32),
    st.integers(0, 25), st.integers(0, 61), st.integers(0, 61),
    st.sampled_from(["", ".0", ".000", ".123", ".999", ".1234", ".123456", ".123456789", ".", ".12a", ".١٢٣"]),
    st.sampled_from(["Z", "z", "+08:00", "-05:30", "+00:00", "-00:00", "+14:00", "+23:59", "+24:00", "+08:60",
                     "+0800", "", " Z", "Z\n"]))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.data_too_large])
@given(hostile_events(), st.one_of(st.none(), TS_FORMS))
@example({"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.001+08:00", "kind": "agent.stop"},
         None)
@example({"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.000+08:00", "kind": "agent.stop"},
         "2026-02-29T10:00:00.000+08:00")
@example({"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.000+08:00", "kind": "agent.stop"},
         "2026-11-23T10:00:00.123456+08:00")
@example({"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.000+08:00", "kind": "agent.stop"},
         "2026-11-23T10:00:00.000+08:60")  # an offset of +08:60 is +09:00: not canonical as written
def test_ingests_reading_in_seconds_agrees_with_the_models(event: Any, ts: str | None) -> None:
    """The same event, the same moment to the last bit of its float, the same refusal: canonical
    timestamps read without a datetime (one conversion per hour) and every other form alike."""
    if ts is not None and isinstance(event, dict):
        event["ts"] = ts
    assert outcome_s(event) == outcome_models_s(event)


def test_plain_ts_ms_is_the_exact_millisecond_count() -> None:
    from datetime import datetime

    for ts in ("2026-11-23T23:59:59.999+08:00", "1970-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z",
               "2026-03-29T02:30:00.500+01:00", "2038-01-19T03:14:08.001Z"):
        ms = event_check.plain_ts_ms(ts)
        assert ms is not None and ms / 1000 == datetime.fromisoformat(ts).timestamp(), ts
    for ts in ("2026-11-23T10:00:00.000+08:60", "2026-11-23T10:00:00.000-05:60",
               "2026-11-23T23:59:60.000+08:00", "2026-11-23T24:00:00.000+08:00", "2026-02-30T10:00:00.000Z",
               "2026-11-23T10:00:00.000+00:00", "2026-11-23T10:0０:00.000Z", "2026-11-23T10:00:00.0000Z",
               "2026-11-23T10:00:00.000+25:00", "2026-11-23T10:00:00Z"):
        assert event_check.plain_ts_ms(ts) is None, ts


def test_an_offset_written_with_sixty_minutes_is_stored_as_the_models_write_it() -> None:
    event = {"schema": 1, "agent_id": "pc-1", "seq": 7, "ts": "2026-11-23T10:00:00.000+08:60", "kind": "app.focus",
             "app": "crm.exe", "title": "CRM", "pid": 7}
    assert schema.validate_event_at(dict(event))[0]["ts"] == "2026-11-23T10:00:00.000+09:00"
    assert event_check.validate_event_at(dict(event))[0]["ts"] == "2026-11-23T10:00:00.000+09:00"
    assert event_check.validate_event_s(dict(event), "pc-1")[0]["ts"] == "2026-11-23T10:00:00.000+09:00"
