"""The alerts', screenshots' and reports' repositories (``store.alerts``, ``store.screenshots``,
``store.reports``), run on every backend."""

from __future__ import annotations

import pytest

from collector.alerts.model import RAISED, UPDATED, Alert, Reason
from collector.errors import NotFound
from collector.storage.screenshots import BlobQuota
from collector.storage.sql import SqlStore
from tests.test_storage_backends import batch, enroll, ev

CHANNELS = ("webhook", "syslog_udp")


def candidate(key: str = "pc-1|bulk_id_copy|2026-11-23", value: float = 5.0, team: str = "cs-a",
              agent_id: str = "pc-1", day: str = "2026-11-23") -> Alert:
    return Alert(key=key, rule=key.split("|")[1], severity="high", agent_id=agent_id, team=team, day=day, seq=3,
                 title="IDs copied", title_zh="复制证件号", value=value, threshold=3.0,
                 reasons=[Reason("copied_ids", value, 3.0, f"{value} IDs copied", f"复制 {value} 个")])


# -- store.alerts -------------------------------------------------------------------------------------
def test_alerts_record_dedupes_by_key_and_rate_limits_per_agent_and_rule(store: SqlStore) -> None:
    repo = store.alerts
    first = repo.record(candidate(), 1000.0, 900.0, CHANNELS)
    assert first.event == RAISED and [d.channel for d in first.deliveries] == list(CHANNELS)
    assert first.alert.id is not None and first.deliveries[0].payload["alert"]["id"] == first.alert.id
    quiet = repo.record(candidate(value=7.0), 1010.0, 900.0, CHANNELS)  # a repeat within the window
    assert quiet.event is None and quiet.alert.id == first.alert.id and quiet.alert.repeats == 1
    assert repo.get(first.alert.id).value == 7.0
    assert repo.record(candidate(value=7.0), 1020.0, 900.0, CHANNELS).alert.repeats == 1, "no growth: no repeat"
    later = repo.record(candidate(value=9.0), 2000.0, 900.0, CHANNELS)
    assert later.event == UPDATED and len(later.deliveries) == 2
    assert repo.record(candidate(value=20.0), 2100.0, 900.0, CHANNELS, repeats=False).event is None
    def other_day() -> Alert:  # record() fills in the candidate it is given: a fresh one each time
        return candidate(key="pc-1|bulk_id_copy|2026-11-24", day="2026-11-24")

    held = repo.record(other_day(), 2500.0, 900.0, CHANNELS)  # same agent and rule, delivered at 2000
    assert held.event is None and held.alert.suppressed == "rate_limited"
    assert repo.record(other_day(), 2800.0, 900.0, CHANNELS).event is None, "still within the window"
    released = repo.record(other_day(), 3000.0, 900.0, CHANNELS)
    assert released.event == RAISED and released.alert.suppressed is None
    assert repo.counts() == {"pending": 6, "alerts": 2}


def test_alerts_search_ack_get_and_purge(store: SqlStore) -> None:
    repo = store.alerts
    a = repo.record(candidate(), 1000.0, 0.0, CHANNELS).alert
    b = repo.record(candidate(key="pc-2|usb_write|2026-11-24", team="cs-b", agent_id="pc-2", day="2026-11-24"),
                    2000.0, 0.0, ()).alert
    assert a.id is not None and b.id is not None
    assert [x.id for x in repo.search()] == [b.id, a.id]
    assert [x.id for x in repo.search(teams=["cs-a"])] == [a.id] and repo.search(teams=[]) == []
    assert [x.id for x in repo.search(agent_id="pc-2")] == [b.id]
    assert [x.id for x in repo.search(day="2026-11-23")] == [a.id]
    assert [x.id for x in repo.search(since=1500.0)] == [b.id]
    acked = repo.ack(a.id, "sec.li", "looked", 3000.0)
    assert (acked.state, acked.acked_by, acked.acked_at, acked.ack_note) == ("acked", "sec.li", 3000.0, "looked")
    assert repo.ack(a.id, "sec.wang", "again", 4000.0).acked_by == "sec.li", "the first acknowledgement stays"
    assert [x.id for x in repo.search(state="open")] == [b.id] and repo.get(a.id).state == "acked"
    with pytest.raises(NotFound):
        repo.get(b.id + 100)
    with pytest.raises(NotFound):
        repo.ack(b.id + 100, "sec.li", "", 1.0)
    assert repo.purge(1500.0) == {"alerts": 1, "alert_deliveries": 2}
    assert [x.id for x in repo.search()] == [b.id] and repo.counts() == {"alerts": 1}


def test_alerts_deliveries_claim_mark_dead_letters_and_requeue(store: SqlStore) -> None:
    repo = store.alerts
    one, two = repo.record(candidate(), 1000.0, 0.0, CHANNELS).deliveries
    assert [d.id for d in repo.pending()] == [one.id, two.id]
    assert repo.pending(touched_before=500.0) == []
    assert repo.claim(one.id, 1100.0) and [d.id for d in repo.pending(touched_before=1050.0)] == [two.id]
    repo.mark(one.id, "sent", 1, None, 1200.0)
    repo.mark(two.id, "dead", 6, "receiver said 400: " + "x" * 3000, 1300.0)
    assert not repo.claim(two.id, 1400.0), "only a pending delivery is taken over"
    assert repo.pending() == []
    dead = repo.dead_letters()
    assert [(d["id"], d["channel"], d["attempts"]) for d in dead] == [(two.id, "syslog_udp", 6)]
    assert len(dead[0]["error"]) == 2000 and dead[0]["payload"]["delivery_id"] == two.uid
    again = repo.requeue(two.id, 1500.0)
    assert (again.id, again.attempts, again.payload) == (two.id, 0, two.payload)
    assert [d.id for d in repo.pending()] == [two.id] and repo.dead_letters() == []
    with pytest.raises(NotFound):
        repo.requeue(two.id, 1600.0)
    assert repo.counts() == {"sent": 1, "pending": 1, "alerts": 1}


def test_alerts_last_event_is_the_agents_newest(store: SqlStore) -> None:
    enroll(store, "pc-1")
    assert store.alerts.last_event("pc-1") is None
    store.ingest(batch("pc-1", 1, [ev(1), ev(2)]))
    store.ingest(batch("pc-1", 2, [ev(3, "2026-11-24")]))
    assert store.alerts.last_event("pc-1") == {"kind": "app.focus", "seq": 3, "ts": "2026-11-24T10:00:00.000+08:00",
                                               "day": "2026-11-24"}
    assert store.alerts.last_event("pc-2") is None


# -- store.screenshots --------------------------------------------------------------------------------
def test_screenshots_add_find_and_refuse_a_duplicate_per_agent(store: SqlStore) -> None:
    enroll(store, "pc-1")
    enroll(store, "pc-2")
    repo, open_day = store.screenshots, BlobQuota(0.0)
    assert repo.add("pc-1", "b1", "2026-11-23T10:00:00Z", 100, '{"env": 1}', 1000.0, open_day) is None
    assert repo.add("pc-1", "b1", "2026-11-23T10:00:01Z", 100, '{"env": 2}', 1001.0, open_day) == ("duplicate", "")
    assert repo.add("pc-2", "b1", "2026-11-23T10:00:00Z", 100, '{"env": 3}', 1002.0, open_day) is None, \
        "another agent may use the same blob id"
    assert repo.envelope("pc-1", "b1") == '{"env": 1}' and repo.envelope("pc-2", "b1") == '{"env": 3}'
    assert repo.envelope("pc-1", "b2") is None
    assert repo.purge(1001.5) == 1 and repo.envelope("pc-1", "b1") is None and repo.envelope("pc-2", "b1")


def test_screenshots_quotas_per_day_and_rate(store: SqlStore) -> None:
    enroll(store, "pc-1")
    repo = store.screenshots
    by_count = BlobQuota(day_start=1000.0, count_per_day=2)
    assert repo.add("pc-1", "old", "t", 10, "{}", 900.0, by_count) is None  # yesterday: not counted today
    assert repo.add("pc-1", "a", "t", 10, "{}", 1000.0, by_count) is None
    assert repo.add("pc-1", "b", "t", 10, "{}", 1001.0, by_count) is None
    code, why = repo.add("pc-1", "c", "t", 10, "{}", 1002.0, by_count) or ("", "")
    assert code == "blob_quota" and "blob_quota_count_per_day 2" in why
    by_bytes = BlobQuota(day_start=1000.0, bytes_per_day=25)
    assert (repo.add("pc-1", "c", "t", 10, "{}", 1003.0, by_bytes) or ("",))[0] == "blob_quota"
    assert repo.add("pc-1", "c", "t", 5, "{}", 1003.0, by_bytes) is None
    by_rate = BlobQuota(day_start=0.0, rate_per_min=3)  # a, b and c within the last minute
    assert (repo.add("pc-1", "d", "t", 1, "{}", 1004.0, by_rate) or ("",))[0] == "blob_rate"
    assert repo.add("pc-1", "d", "t", 1, "{}", 1061.0, by_rate) is None, "a minute later the rate allows it"
    assert repo.envelope("pc-1", "c") == "{}"


# -- store.reports ------------------------------------------------------------------------------------
def test_reports_save_replace_load_and_labels(store: SqlStore) -> None:
    repo = store.reports
    assert repo.load("2026-11-23") is None and repo.labels() == []
    repo.save("2026-11-23", '{"v": 1}', 1.0)
    repo.save("2026-11-23", '{"v": 2}', 2.0)
    repo.save("2026-11-22", '{"v": 0}', 2.0)
    assert repo.load("2026-11-23") == '{"v": 2}' and repo.load("2026-11-22") == '{"v": 0}'
    repo.save_label("pc-1", "2026-11-23", "benign", "sec.li", "", 1.0)
    repo.save_label("pc-1", "2026-11-23", "confirmed", "sec.wang", "seen", 2.0, '{"score": 0.9}', "p1")
    repo.save_label("pc-2", "2026-11-21", "follow_up", "sec.li", "", 3.0)
    rows = repo.labels()
    assert [(r["agent_id"], r["day"], r["label"]) for r in rows] == [("pc-2", "2026-11-21", "follow_up"),
                                                                      ("pc-1", "2026-11-23", "confirmed")]
    assert (rows[1]["reviewer"], rows[1]["note"], rows[1]["snapshot"], rows[1]["pattern"]) == (
        "sec.wang", "seen", '{"score": 0.9}', "p1")
