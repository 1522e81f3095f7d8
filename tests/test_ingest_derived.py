"""Derived records stay sound whatever a signed batch holds: alerts keep their numbers, a rollup
that refuses an event quarantines that event alone, and the per-event fallback skips duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select

from collector.alerts.model import Alert, Reason
from collector.storage import BatchWrite, StoredEvent
from collector.storage import tables as t
from collector.storage.tables import alerts
from contract import wire
from contract.schema import format_ts
from tests.conftest import RAW_IDS, wait_for
from tests.test_ingest_rejections import Harness, h  # noqa: F401  (fixture)

_PHONE = int(RAW_IDS[2])


def _bearer(h: Harness) -> dict[str, str]:  # noqa: F811
    h.collector.accounts.add_user("sec", "security")
    return {"Authorization": f"Bearer {h.collector.accounts.create_token('sec')}"}


def _event(h: Harness, kind: str, **fields: Any) -> dict[str, Any]:  # noqa: F811
    h.seq += 1
    return {"schema": 1, "agent_id": "pc-1", "seq": h.seq, "ts": format_ts(datetime.now(UTC)), "kind": kind,
            **fields}


def test_phone_shaped_seqs_are_refused_and_alerts_keep_numbers(h: Harness) -> None:  # noqa: F811
    hostile = {"schema": 1, "agent_id": "pc-1", "seq": _PHONE, "ts": format_ts(datetime.now(UTC)),
               "kind": "file.write", "path": "E:/x", "op": "created", "removable": True, "size": 1}
    writes = [_event(h, "file.write", path=f"E:/f{i}", op="created", removable=True, size=13_900_000_000)
              for i in range(3)]
    answer = h.post(h.seal(1, [hostile, *writes]))
    assert answer.status_code == 200 and answer.json()["quarantined"] == 1, answer.text
    assert "seq" in h.collector.store.quarantined("pc-1")[0]["reason"]
    headers = _bearer(h)
    found = wait_for(lambda: h.client.get("/api/v1/alerts", headers=headers).json()["alerts"], 30,
                     what="the removable-write alert")
    alert = next(a for a in found if a["rule"] == "removable_write")
    assert alert["seq"] in {w["seq"] for w in writes}
    assert all(type(alert[k]) in (int, float) for k in ("seq", "value", "threshold", "repeats"))
    assert all(type(r["value"]) is float for r in alert["reasons"])
    assert str(_PHONE) not in json.dumps(found)
    page = h.client.get("/alerts", headers=headers)
    assert page.status_code < 500


def test_an_alert_stored_by_an_older_release_with_a_masked_seq_still_lists(h: Harness) -> None:  # noqa: F811
    """Older releases masked a phone-shaped seq into a string inside the stored alert: reading it must
    not fail the whole alerts page or API."""
    good = Alert(key="pc-1|removable_write|2026-11-23", rule="removable_write", severity="high", agent_id="pc-1",
                 team="cs-a", day="2026-11-23", seq=7, title="t", title_zh="t", value=1.0, threshold=1.0,
                 reasons=[Reason("removable_writes", 1.0, 1.0, "x", "x")])
    body = good.to_dict()
    body.update(seq="*******8000", value="*******8000", link="/agents/pc-1/timeline?date=2026-11-23#seq-*******8000")
    body["reasons"][0]["value"] = "*******8000"
    body["evidence"] = [{"ts": "2026-11-23T01:00:00Z", "seq": "*******8000", "what": "x", "what_zh": "x"}]
    with h.collector.store._write() as conn:
        conn.execute(insert(alerts).values(key=good.key, rule=good.rule, severity=good.severity, agent_id="pc-1",
                                           team="cs-a", day=good.day, value=1.0, state="open", raised_at=1.0,
                                           updated_at=1.0, last_sent_at=None, body=orjson.dumps(body).decode()))
    api = h.client.get("/api/v1/alerts", headers=_bearer(h))
    assert api.status_code == 200, api.text
    listed = api.json()["alerts"][0]
    assert listed["seq"] == 0 and listed["reasons"][0]["value"] == 0.0 and listed["evidence"][0]["seq"] == 0
    assert listed["link"].endswith("#seq-0")


def test_alert_numbers_saturate_and_never_spell_a_personal_number() -> None:
    alert = Alert(key="k", rule="r", severity="low", agent_id="pc-1", team="cs-a", day="2026-11-23",
                  seq=_PHONE, title=f"客户 {RAW_IDS[0]}", title_zh="t", value=float(_PHONE), threshold=1.0,
                  reasons=[Reason("removable_mb", float(_PHONE), 1.0, RAW_IDS[1], "x")],
                  evidence=[{"ts": "2026-11-23T01:00:00Z", "seq": _PHONE, "what": RAW_IDS[3], "what_zh": "x"}])
    out = alert.to_dict()
    text = json.dumps(out, ensure_ascii=False)
    assert not any(raw in text for raw in RAW_IDS)
    assert out["seq"] == 0 and out["value"] == 9_999_999_999.0 and out["reasons"][0]["value"] == 9_999_999_999.0
    assert Alert.from_dict(out).link.endswith("#seq-0")


def test_an_event_a_rollup_refuses_is_quarantined_alone(h: Harness) -> None:  # noqa: F811
    """A validated event the rollup cannot fold (here one written past validation, as a bug might)
    is quarantined with its reason; the rest of the batch is stored and rolled up without a trace of it."""
    day = datetime.now(h.collector.settings.tz).date().isoformat()
    ts = format_ts(datetime.now(UTC))
    ms = int(datetime.now(UTC).timestamp() * 1000)

    def stored(seq: int, event: dict[str, Any]) -> StoredEvent:
        full = {"schema": 1, "agent_id": "pc-1", "seq": seq, "ts": ts, **event}
        return StoredEvent(seq, ts, ms, day, str(event["kind"]), orjson.dumps(full).decode(), full)

    good = [stored(1, {"kind": "app.focus", "app": "crm.exe", "title": "a", "pid": 1}),
            stored(3, {"kind": "app.focus", "app": "wechat.exe", "title": "b", "pid": 2})]
    bad = stored(2, {"kind": "app.focus", "title": "c", "pid": 3})  # no app: add() raises
    outcome = h.collector.store.ingest(BatchWrite("pc-1", 1, "a" * 64, wire.GENESIS_HASH, [good[0], bad, good[1]],
                                                  [], 1.0), h.collector.rollups)
    assert outcome.status == "stored" and outcome.stored == 2 and outcome.quarantined == 1
    assert outcome.duplicates == 0
    assert [e["seq"] for e in h.collector.store.timeline("pc-1", day)] == [1, 3]
    (row,) = h.collector.store.quarantined("pc-1")
    assert row["reason"].startswith("rollup failed") and json.loads(row["raw"])["seq"] == 2
    state = dict(h.collector.store.rollups_for_day(day))["pc-1"]
    assert state["events"] == 2 and state["focus_switches"] <= 2
    with h.collector.store._read() as conn:
        assert conn.execute(select(t.agents.c.events).where(t.agents.c.agent_id == "pc-1")).scalar_one() == 2
    h.prev, h.seq = "a" * 64, 3
    before = h.stats()["events"]
    assert h.post(h.seal(2, h.events(2))).status_code == 200  # the PC goes on being stored
    assert h.stats()["events"] == before + 2


def test_the_per_event_fallback_skips_a_row_already_there(h: Harness) -> None:  # noqa: F811
    """The fallback path (taken when the bulk write is refused: on PostgreSQL a raw NUL refuses the
    COPY) meets a seq that is already stored: it is skipped as a duplicate, not a batch-wide failure,
    and the refused event alone is quarantined."""
    store = h.collector.store
    day = datetime.now(h.collector.settings.tz).date().isoformat()
    ts = format_ts(datetime.now(UTC))

    def ev(seq: int, data: str) -> StoredEvent:
        return StoredEvent(seq, ts, 0, day, "agent.stop", data, {"kind": "agent.stop", "seq": seq, "ts": ts})

    there, nul, new = ev(1, '{"seq":1}'), ev(2, '{"seq":2,"reason":"a\x00b"}'), ev(3, '{"seq":3}')
    if not store.is_sqlite:
        store.partitions.ensure({day})  # type: ignore[attr-defined]
    with store._write() as conn:
        assert store._insert_one(conn, "pc-1", there) == 1
        assert store._insert_one(conn, "pc-1", there) == 0  # again: skipped, not an IntegrityError
        if store.is_sqlite:
            return  # SQLite stores a NUL: its bulk write is never refused, so there is no fallback to take
        refused: list[Any] = []
        kept, n = store._insert_events(conn, "pc-1", [there, nul, new], refused)
    assert n == 1 and kept == [new]
    assert [q.seq for q in refused] == [2] and "\x00" not in refused[0].raw
    assert [e["seq"] for e in store.timeline("pc-1", day)] == [1, 3]


def test_prev_batch_hash_must_be_64_lowercase_hex(h: Harness) -> None:  # noqa: F811
    for bad in ("G" * 64, "A" * 64, "a" * 63, "a" * 64 + "\n", RAW_IDS[1] + "x" * 46):
        h.prev = bad
        answer = h.post(h.seal(1, h.events(1)))
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_hash", bad
    assert h.stats()["rejections"]["bad_hash"] == 5 and h.stats()["events"] == 0
    h.prev = wire.GENESIS_HASH
    assert h.post(h.seal(1, h.events(1))).status_code == 200
    h.prev = RAW_IDS[2] + "a" * 53  # hex, yet it carries a phone number: the chain-break record masks it
    assert h.post(h.seal(2, h.events(1))).status_code == 200
    (record,) = [r for r in h.collector.store.integrity_records("pc-1") if r["kind"] == "chain_break"]
    assert RAW_IDS[2] not in json.dumps(record) and record["detail"]["got"].endswith("a" * 53)
