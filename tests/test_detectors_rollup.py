"""DayRollup arithmetic on small hand-made events, state round trips, bounds, Policy and the feature table."""

from __future__ import annotations

import json
import random
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contract.schema import KIND_MODELS, validate_event
from detectors.context import AgentContext
from detectors.day_events import HANDLERS, USER_KINDS, handles
from detectors.errors import InvalidInput
from detectors.features import FEATURE_NAMES, FEATURES, features_markdown
from detectors.policy import Policy, policy_markdown
from detectors.rollup import DayRollup
from detectors.rules import RuleSet

DAY = date(2024, 5, 6)


class Day:
    """Builds validated events for agent a1 on DAY (local time +08:00)."""

    def __init__(self) -> None:
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def __call__(self, hhmmss: str, kind: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        event = validate_event({"schema": 1, "agent_id": "a1", "seq": self.seq,
                                "ts": f"2024-05-06T{hhmmss}.000+08:00", "kind": kind, **fields})
        self.events.append(event)
        return event

    def heartbeats(self, start: str, end: str) -> None:
        h0, m0 = map(int, start.split(":"))
        h1, m1 = map(int, end.split(":"))
        for m in range(h0 * 60 + m0, h1 * 60 + m1):
            self(f"{m // 60:02d}:{m % 60:02d}:30", "agent.heartbeat", spool_depth=0, dropped_total=0,
                 cpu_pct=1.0, rss_mb=40.0)


def ctx(**kw: Any) -> AgentContext:
    return AgentContext("a1", "team-1", **kw)


def rollup(events: list[dict[str, Any]], context: AgentContext | None = None) -> DayRollup:
    r = DayRollup.new(context or ctx(), DAY)
    for e in events:
        r.add(e)
    return r


def test_feature_table_documents_every_feature() -> None:
    r = DayRollup.new(ctx(), DAY)
    assert list(r.features()) == list(FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == len(FEATURES)
    for f in FEATURES:
        assert f.unit and f.help_en.endswith(".") and f.help_zh.endswith("。"), f.name
        assert f.direction in ("up", "down", "both") and f.floor > 0, f.name


def test_tables_render_for_the_docs() -> None:
    features, policy = features_markdown(), policy_markdown()
    assert all(f"`{name}`" in features for name in FEATURE_NAMES)
    for f in fields(Policy):
        assert f.metadata["help"] and f"`{f.name}`" in policy


def test_every_event_kind_the_rollup_reads_has_one_registered_handler() -> None:
    assert set(HANDLERS) == set(KIND_MODELS) - {"device.unmount"}  # an unmount is presence only
    assert set(USER_KINDS) == {"app.focus", "page.open", "clipboard.copy", "case.open", "case.close", "file.write",
                               "process.start", "input.active", "device.mount"}
    before = dict(HANDLERS)
    with pytest.raises(ValueError, match="already has a handler"):
        handles("app.focus")(lambda r, e, sec, seq, customer: None)
    assert dict(HANDLERS) == before


def test_an_empty_day_is_all_zero() -> None:
    assert set(DayRollup.new(ctx(), DAY).features().values()) == {0.0}


def test_active_idle_and_shift_minutes() -> None:
    d = Day()
    d.heartbeats("08:00", "18:45")
    d("08:00:05", "app.focus", app="crm.exe", title="CRM", pid=1)
    d("10:20:00", "input.idle", threshold_s=300)     # idle since 10:15
    d("10:45:00", "input.active", idle_s=1800)       # idle 10:15 - 10:45
    d("22:10:00", "app.focus", app="crm.exe", title="CRM", pid=1)
    f = rollup(d.events).features()
    assert f["idle_min"] == 30
    assert f["active_min"] == 645 - 30 + 1
    assert f["outside_shift_min"] == 30 + 15 + 1     # beyond the 30-min grace: 08:00-08:30, 18:30-18:45, 22:10
    assert f["night_min"] == 1
    assert f["first_activity"] == -60 and f["last_activity"] == 4 * 60 + 11
    strict = rollup(d.events, ctx(policy=Policy(shift_grace_min=0))).features()
    assert strict["outside_shift_min"] == 60 + 45 + 1


def test_open_idle_lasts_while_the_pc_keeps_reporting() -> None:
    d = Day()
    d.heartbeats("09:00", "12:00")
    d("11:05:00", "input.idle", threshold_s=300)     # idle from 11:00, never resumed
    f = rollup(d.events).features()
    assert f["idle_min"] == 60 and f["active_min"] == 120


def test_cases_handling_time_and_utilisation() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    for k, (start, end, wall) in enumerate([("09:00:00", "09:10:00", 600), ("09:20:00", "09:25:00", 300),
                                            ("09:30:00", "09:45:00", 900)]):
        d(start, "case.open", case_id=f"C-2024-000000{k}", app="crm", title="case")
        d(end, "case.close", case_id=f"C-2024-000000{k}", active_s=wall - 30, idle_s=30, wall_s=wall)
    f = rollup(d.events).features()
    assert f["cases_closed"] == 3
    assert f["handle_mean_s"] == 600 and f["handle_median_s"] == 600
    assert f["cases_per_hour"] == pytest.approx(3.0)
    assert f["utilisation"] == pytest.approx(30 / 60)   # 09:00-09:10, 09:20-09:25, 09:30-09:45


def test_customer_pages_need_a_case() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    d("09:00:00", "case.open", case_id="C-2024-0000001", app="crm", title="case")
    d("09:01:00", "page.open", url="https://crm.lender.example/customers/501", title="c", app="chrome.exe")
    d("09:10:00", "case.close", case_id="C-2024-0000001", active_s=600, idle_s=0, wall_s=600)
    d("09:20:00", "page.open", url="https://crm.lender.example/customers/502", title="c", app="chrome.exe")
    d("09:21:00", "page.open", url="https://crm.lender.example/customers/503?case=C-2024-0000009", title="c",
      app="chrome.exe")
    d("09:22:00", "page.open", url="https://crm.lender.example/customers/502/loans", title="c", app="chrome.exe")
    d("09:30:00", "page.open", url="https://kb.lender.example/faq", title="kb", app="chrome.exe")
    r = rollup(d.events)
    f = r.features()
    assert f["customers_viewed"] == 3 and f["customer_pages"] == 4 and f["pages"] == 5
    assert f["pages_without_case"] == 2   # 502 twice; 503 carries a case number in its URL
    kinds = [e["kind"] for e in r.evidence()]
    assert kinds.count("page_without_case") == 2


def test_a_still_open_case_covers_pages() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    d("09:00:00", "case.open", case_id="C-2024-0000001", app="crm", title="case")
    d("09:30:00", "page.open", url="https://crm.lender.example/customers/501", title="c", app="chrome.exe")
    assert rollup(d.events).features()["pages_without_case"] == 0


def test_copies_by_class_and_toward_messaging() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    d("09:00:00", "app.focus", app="crm.exe", title="CRM", pid=1)
    d("09:05:00", "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=40,
      classes={"id_number": 2, "phone": 1}, action="allowed")
    d("09:05:20", "app.focus", app="WeChat.exe", title="chat", pid=2)    # 20 s later: toward messaging
    d("09:06:00", "app.focus", app="crm.exe", title="CRM", pid=1)
    d("09:20:00", "clipboard.copy", app="crm.exe", title="CRM", trigger="menu", chars=11,
      classes={"phone": 1}, action="allowed")
    d("09:25:00", "app.focus", app="WeChat.exe", title="chat", pid=2)    # 5 min later: not counted
    d("09:30:00", "clipboard.copy", app="notepad.exe", title="n", trigger="hotkey", chars=3, classes={},
      action="allowed")
    d("09:40:00", "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=16,
      classes={"bank_card": 1}, action="cleared")
    d("09:40:30", "app.focus", app="game.exe", title="x", pid=3)          # off-list app
    f = rollup(d.events).features()
    assert (f["copies"], f["copied_ids"], f["copied_phones"], f["copied_cards"]) == (4, 2, 2, 1)
    assert f["copies_to_offlist"] == 2
    assert f["ids_to_messaging"] == 2
    assert f["messaging_min"] == 1 + 15                  # 09:05 and 09:25-09:40


def test_app_and_site_minutes() -> None:
    d = Day()
    d.heartbeats("09:00", "11:00")
    d("09:00:00", "app.focus", app="crm.exe", title="CRM", pid=1)
    d("09:10:00", "app.focus", app="game.exe", title="x", pid=3)
    d("09:30:00", "page.open", url="https://shop.example.com/x", title="s", app="chrome.exe")
    d("09:50:00", "page.open", url="https://kb.lender.example/faq", title="kb", app="chrome.exe")
    d("10:00:00", "app.focus", app="AnyDesk.exe", title="remote", pid=4)
    d("10:10:00", "app.focus", app="crm.exe", title="CRM", pid=1)
    f = rollup(d.events).features()
    assert f["offlist_app_min"] == 20
    assert f["offlist_site_min"] == 20
    assert f["remote_access_min"] == 10


def test_removable_drives_and_flagged_processes() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    d("09:01:00", "device.mount", mountpoint="E:\\", fs="exfat", label="KINGSTON", removable=True)
    d("09:01:30", "device.mount", mountpoint="D:\\", fs="ntfs", label="DATA", removable=False)
    d("09:02:00", "file.write", path="E:\\cases.xlsx", op="created", size=2_500_000, removable=True)
    d("09:02:05", "file.write", path="E:\\cases.xlsx", op="modified", size=2_500_000, removable=True)
    d("09:02:10", "file.write", path="C:\\Users\\a\\x.txt", op="created", size=10, removable=False)
    d("09:03:00", "file.write", path="E:\\old.txt", op="deleted", removable=True)
    d("09:05:00", "process.start", name="obs64.exe", exe="C:\\obs64.exe", pid=5, category="screen_capture")
    d("09:06:00", "process.start", name="ToDesk.exe", exe="C:\\ToDesk.exe", pid=6, category="remote_access")
    d("09:07:00", "screenshot", blob_id="b1", reason="remote_access", w=1920, h=1080)
    r = rollup(d.events)
    f = r.features()
    assert (f["drive_mounts"], f["removable_writes"], f["removable_mb"]) == (1, 2, 5.0)
    assert (f["screen_capture_starts"], f["remote_access_starts"], f["screenshots"]) == (1, 1, 1)
    kinds = {e["kind"] for e in r.evidence()}
    assert {"drive_mount", "usb_write", "screen_capture", "remote_access", "screenshot"} <= kinds


def test_silence_in_shift_unless_stopped_cleanly() -> None:
    d = Day()
    d("08:55:00", "agent.start", version="1", os="w", hostname="h", user="u")
    d.heartbeats("08:55", "12:00")
    d.heartbeats("13:00", "15:00")                        # killed 12:00-13:00, then gone from 15:00
    r = rollup(d.events)
    assert r.features()["silent_shift_min"] == 60 + 180
    silences = [e for e in r.evidence() if e["kind"] == "silence"]
    assert [s["ts"][11:16] for s in silences] == ["12:00", "15:00"]

    clean = Day()
    clean.heartbeats("09:00", "12:00")
    clean("11:59:50", "agent.stop", reason="user logged off")
    clean.heartbeats("13:00", "18:00")
    assert rollup(clean.events).features()["silent_shift_min"] == 0


def test_silence_before_now_only_and_short_gaps_ignored() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    d.heartbeats("10:02", "12:00")                        # a 2-minute hole: below silence_min_gap_min
    r = rollup(d.events)
    now = datetime(2024, 5, 6, 4, 30, tzinfo=UTC)   # 12:30 local
    assert r.features(now=now)["silent_shift_min"] == 30
    assert r.features()["silent_shift_min"] == 360


def test_integrity_counts() -> None:
    r = DayRollup.new(ctx(), DAY)
    r.add_integrity("seq_gap", 7)
    r.add_integrity("chain_break")
    r.add_integrity("batch_gap", 2)
    f = r.features()
    assert (f["seq_missing"], f["chain_breaks"], f["batch_gaps"]) == (7, 1, 2)
    with pytest.raises(InvalidInput):
        r.add_integrity("tampered")
    with pytest.raises(InvalidInput):
        r.add_integrity("seq_gap", -1)


def _busy_day() -> Day:
    d = Day()
    d("08:50:00", "agent.start", version="1", os="w", hostname="h", user="u")
    d.heartbeats("08:50", "18:10")
    rnd = random.Random(3)
    for k in range(40):
        m = 9 * 60 + k * 12
        t = f"{m // 60:02d}:{m % 60:02d}"
        d(f"{t}:00", "case.open", case_id=f"C-2024-{k:07d}", app="crm", title="case")
        d(f"{t}:10", "page.open", url=f"https://crm.lender.example/customers/{1000 + k}", title="c",
          app="chrome.exe")
        d(f"{t}:20", "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=18,
          classes={"id_number": rnd.randint(0, 1)}, action="allowed")
        d(f"{t}:40", "app.focus", app=rnd.choice(["WXWork.exe", "crm.exe", "game.exe"]), title="t", pid=2)
        d(f"{t}:50", "case.close", case_id=f"C-2024-{k:07d}", active_s=500, idle_s=60, wall_s=590)
        d(f"{t}:55", "input.idle", threshold_s=60)
        d(f"{m // 60:02d}:{m % 60 + 3:02d}:00", "input.active", idle_s=125)
    d("12:00:00", "page.open", url="https://crm.lender.example/customers/77", title="c", app="chrome.exe")
    d("19:00:00", "file.write", path="E:\\a.xlsx", op="created", size=100, removable=True)
    return d


def test_order_of_arrival_does_not_matter() -> None:
    d = _busy_day()
    expected = rollup(d.events)
    shuffled = list(d.events)
    random.Random(7).shuffle(shuffled)
    batched = DayRollup.new(ctx(), DAY)
    for start in range(0, len(shuffled), 50):              # several batches, stored in between
        part = DayRollup.from_state(ctx(), json.loads(json.dumps(batched.to_state())))
        for e in shuffled[start:start + 50]:
            part.add(e)
        batched = part
    assert batched.features() == expected.features()
    assert batched.evidence() == expected.evidence()
    assert batched.strip() == expected.strip()


def test_state_is_small_and_bounded() -> None:
    d = Day()
    d.heartbeats("00:00", "23:59")
    for k in range(20_000):
        sec = k * 4
        hh, mm, ss = sec // 3600, sec // 60 % 60, sec % 60
        t = f"{hh:02d}:{mm:02d}:{ss:02d}"
        if k % 2:
            d(t, "page.open", url=f"https://crm.lender.example/customers/{k}", title="c", app="chrome.exe")
        else:
            d(t, "clipboard.copy", app=f"tool{k}.exe", title="x", trigger="hotkey", chars=18,
              classes={"id_number": 1}, action="allowed")
    r = rollup(d.events)
    size = len(json.dumps(r.to_state()))
    assert size < 400_000, size
    assert len(r.evidence()) <= 11 * 15
    assert r.features()["copied_ids"] == 10_000
    assert r.features()["customers_viewed"] == 5000      # saturates at MAX_CUSTOMERS


def test_events_of_another_day_are_not_counted() -> None:
    r = DayRollup.new(ctx(), DAY)
    r.add(validate_event({"schema": 1, "agent_id": "a1", "seq": 1, "ts": "2024-05-05T23:59:00.000+08:00",
                          "kind": "screenshot", "blob_id": "b", "reason": "r", "w": 1, "h": 1}))
    r.add(validate_event({"schema": 1, "agent_id": "a1", "seq": 2, "ts": "2024-05-06T00:00:00.000+08:00",
                          "kind": "screenshot", "blob_id": "b", "reason": "r", "w": 1, "h": 1}))
    assert r.features()["screenshots"] == 1
    assert r.to_state()["misrouted"] == 1


def test_night_shift_crossing_midnight() -> None:
    d = Day()
    d.heartbeats("00:00", "06:00")
    d.heartbeats("22:00", "23:59")
    f = rollup(d.events, ctx(shift_start="22:00", shift_end="06:00")).features()
    assert f["outside_shift_min"] == 0
    assert f["silent_shift_min"] == 0                     # 23:59 is silent but under 3 min
    assert f["night_min"] == 0                            # night work is the shift here
    assert f["first_activity"] == 120                     # circular: 00:00 is 2 h after 22:00


def test_bad_input_is_refused() -> None:
    r = DayRollup.new(ctx(), DAY)
    with pytest.raises(InvalidInput):
        r.add({"kind": "app.focus"})
    with pytest.raises(InvalidInput):
        r.add({"agent_id": "other", "seq": 1, "ts": "2024-05-06T10:00:00.000+08:00", "kind": "app.focus",
               "app": "x", "title": "y", "pid": 1})
    with pytest.raises(InvalidInput):
        DayRollup.from_state(ctx(), {"v": 99})
    with pytest.raises(InvalidInput):
        DayRollup.from_state(AgentContext("b2", "t"), r.to_state())
    for bad in ({"role": "boss"}, {"shift_start": "9am"}, {"tz": "Mars/Olympus"}):
        with pytest.raises(InvalidInput):
            ctx(**bad)


def test_policy_round_trip_and_validation() -> None:
    p = Policy.from_dict({"allowed_apps": ["crm", "Excel.EXE"], "paste_window_s": 30, "version": 4})
    assert p.allowed_apps == ("crm", "Excel.EXE") and p.paste_window_s == 30.0
    assert Policy.from_dict(p.to_dict()) == p
    assert Policy.from_dict(None) == Policy()
    for bad in ({"allowed_apps": "crm"}, {"case_id_patterns": ["("]}, {"night_start": "25:00"},
                {"paste_window_s": "soon"}, {"silence_min_gap_min": 0}):
        with pytest.raises(InvalidInput):
            Policy.from_dict(bad)


def test_the_process_categories_decide_the_flagged_tools_in_front() -> None:
    p = Policy.from_dict({"process_categories": {"screen_capture": ["kazam", "obs64*"],
                                                 "remote_access": ["splashtop*"]},
                          "allowed_apps": ["chrome.exe"]})
    assert p.category_of("Kazam.exe") == p.category_of("obs64.exe") == "screen_capture"
    assert p.category_of("bandicam") == "other"  # a category given replaces that category's defaults
    assert p.category_of("WeChat.exe") == "messaging"  # a category left out keeps its defaults
    with pytest.raises(InvalidInput):
        Policy.from_dict({"process_categories": {"messaging": "qq"}})
    d = Day()
    d.heartbeats("09:00", "10:00")
    d("09:00:00", "app.focus", app="Kazam.exe", title="rec", pid=3)
    d("09:10:00", "app.focus", app="obs64.exe", title="OBS", pid=4)     # glob "obs64*"
    d("09:20:00", "app.focus", app="SplashtopStreamer.exe", title="x", pid=5)
    d("09:30:00", "app.focus", app="chrome.exe", title="x", pid=6)
    f = rollup(d.events, ctx(policy=p)).features()
    assert (f["screen_capture_min"], f["remote_access_min"], f["offlist_app_min"]) == (20, 10, 0)


def test_policy_decides_what_is_off_list() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    d("09:00:00", "app.focus", app="game.exe", title="x", pid=3)
    strict = rollup(d.events).features()
    lenient = rollup(d.events, ctx(policy=Policy(allowed_apps=()))).features()
    assert strict["offlist_app_min"] == 60 and lenient["offlist_app_min"] == 0


def test_strip_marks_active_idle_and_absent() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    d("09:35:00", "input.active", idle_s=1500)            # idle 09:10-09:35
    strip = rollup(d.events).strip()
    assert len(strip) == 144
    assert strip[54:60] == "aiiaaa" and strip[:54] == "-" * 54 and strip[60:] == "-" * 84


def test_a_flood_of_switches_and_copies_does_not_blind_the_messaging_count() -> None:
    d = Day()
    d.heartbeats("09:00", "11:00")
    for k in range(1000):  # Alt-Tab between the CRM and an off-list app, 1,000 times
        d(f"09:{k // 60 % 60:02d}:{k % 60:02d}", "app.focus", app="game.exe" if k % 2 else "crm.exe",
          title="t", pid=3)
    for k in range(1000):  # a flood of harmless sensitive copies that go nowhere
        d(f"10:{k // 60 % 30:02d}:{k % 60:02d}", "clipboard.copy", app="crm.exe", title="CRM",
          trigger="hotkey", chars=11, classes={"phone": 1}, action="allowed")
    for k in range(8):
        d(f"10:4{k}:00", "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=18,
          classes={"id_number": 1}, action="allowed")
        d(f"10:4{k}:10", "app.focus", app="WeChat.exe", title="chat", pid=2)
        d(f"10:4{k}:20", "app.focus", app="crm.exe", title="CRM", pid=1)
    f = rollup(d.events).features()
    assert f["focus_switches"] == 1000 + 16
    assert f["copied_ids"] == 8
    assert f["ids_to_messaging"] == 8
    hits = {h.rule.name: h.rule.severity for h in RuleSet().evaluate(f)}
    assert hits["ids_to_messaging"] == "critical"
