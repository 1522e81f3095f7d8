"""No evasion by volume: a flood of one kind fills a rollup bound, and every later event still counts.

Each test floods one of :mod:`detectors.bounds`' lists, then does the thing the flood was meant to
hide, and checks that the feature, the rule and the evidence still show it, that reaching the bound
is itself a feature, a rule and a moment, and that the stored state stays small.
"""

from __future__ import annotations

import json
from typing import Any

from detectors.bounds import MAX_APPS, MAX_MOMENTS, MAX_PAGES, MAX_SPANS, hist_median
from detectors.rollup import DayRollup
from detectors.rules import RuleSet
from tests.test_detectors_rollup import DAY, Day, ctx, rollup


def _clock(sec: int) -> str:
    return f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"


def _rules(f: dict[str, float]) -> set[str]:
    return {h.rule.name for h in RuleSet().evaluate(f)}


def _small(r: DayRollup, limit: int = 400_000) -> None:
    size = len(json.dumps(r.to_state()))
    assert size < limit, size


def _bound_moments(r: DayRollup) -> list[dict[str, Any]]:
    return [e for e in r.evidence() if e["kind"] == "rollup_bound"]


def test_five_thousand_apps_then_an_id_taken_to_wechat() -> None:
    d = Day()
    d.heartbeats("09:00", "11:00")
    for k in range(5000):  # one new app a second, 09:00 to 10:23
        d(_clock(9 * 3600 + k), "app.focus", app=f"tool{k}.exe", title="t", pid=3)
    d("10:30:00", "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=18,
      classes={"id_number": 1}, action="allowed")
    d("10:30:10", "app.focus", app="WeChat.exe", title="chat", pid=2)
    d("10:36:00", "app.focus", app="crm.exe", title="CRM", pid=1)
    r = rollup(d.events)
    f = r.features()
    apps = r.to_state()["apps"]
    assert len(apps) == MAX_APPS + 1 and apps[-1] == "wechat"  # past the bound only flagged tools keep names
    assert f["ids_to_messaging"] == 1 and f["copies_to_offlist"] == 1
    assert f["messaging_min"] == 6                        # 10:30 to 10:35, counted by class past the bound
    assert f["offlist_app_min"] >= 80                     # the flood itself is off-list time
    assert f["rollup_bound_hits"] >= 1
    assert {"id_to_messaging", "rollup_bound"} <= _rules(f)
    [moment] = [e for e in _bound_moments(r) if "distinct apps" in e["what"]]
    assert moment["ts"][11:16] == "09:03"                 # the 201st app, at 09:03:20
    carried = [e for e in r.evidence() if e["kind"] == "copy_to_offlist"]
    assert [e["ts"][11:19] for e in carried] == ["10:30:10"] and "wechat" in carried[0]["what"]
    _small(r)


def test_ten_thousand_covered_pages_then_a_caseless_customer_page() -> None:
    d = Day()
    d.heartbeats("09:00", "13:00")
    d("09:00:00", "case.open", case_id="C-2024-0000001", app="crm", title="case")
    for k in range(10_000):  # 09:00:01 to 11:46:40, all during the open case
        d(_clock(9 * 3600 + 1 + k), "page.open", url=f"https://crm.lender.example/customers/{k}", title="c",
          app="chrome.exe")
    d("11:50:00", "case.close", case_id="C-2024-0000001", active_s=9000, idle_s=0, wall_s=10200)
    d("12:00:00", "page.open", url="https://crm.lender.example/customers/424242", title="c", app="chrome.exe")
    r = rollup(d.events)
    f = r.features()
    assert f["pages_without_case"] == 1 and f["customer_pages"] == 10_001
    assert f["rollup_bound_hits"] >= 1 and "rollup_bound" in _rules(f)
    [page] = [e for e in r.evidence() if e["kind"] == "page_without_case"]
    assert page["ts"][11:19] == "12:00:00" and "4242" in page["what"]
    assert len(r.to_state()["cust_pages"]) <= MAX_PAGES
    _small(r)


def test_ten_thousand_caseless_pages_are_all_counted() -> None:
    d = Day()
    d.heartbeats("09:00", "12:00")
    for k in range(10_000):
        d(_clock(9 * 3600 + k), "page.open", url=f"https://crm.lender.example/customers/{k % 300}", title="c",
          app="chrome.exe")
    f = rollup(d.events).features()
    assert f["pages_without_case"] == 10_000 and f["customers_viewed"] == 300
    assert "browse_without_case" in _rules(f)


def test_thousands_of_carried_copies_are_each_counted_and_the_worst_shown() -> None:
    d = Day()
    d.heartbeats("09:00", "12:00")
    for k in range(3000):  # a phone copied in the CRM, then a game, every 3 s
        t = 9 * 3600 + 3 * k
        d(_clock(t), "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=11,
          classes={"phone": 1}, action="allowed")
        d(_clock(t + 1), "app.focus", app="game.exe", title="g", pid=4)
        d(_clock(t + 2), "app.focus", app="crm.exe", title="CRM", pid=1)
    for k in range(8):
        d(f"11:4{k}:00", "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=18,
          classes={"id_number": 1}, action="allowed")
        d(f"11:4{k}:10", "app.focus", app="WeChat.exe", title="chat", pid=2)
        d(f"11:4{k}:20", "app.focus", app="crm.exe", title="CRM", pid=1)
    r = rollup(d.events)
    f = r.features()
    assert f["copies_to_offlist"] == 3008 and f["ids_to_messaging"] == 8 and f["copied_phones"] == 3000
    assert {"ids_to_messaging", "copy_to_offlist", "rollup_bound"} <= _rules(f)
    state = r.to_state()
    assert len(state["sens_copies"]) <= MAX_MOMENTS and len(state["switches"]) <= MAX_MOMENTS
    carried = [e for e in r.evidence() if e["kind"] == "copy_to_offlist"]
    assert len(carried) == 15 and sum("wechat" in e["what"] for e in carried) == 8  # the IDs first
    _small(r)


def test_a_copy_flood_inside_one_paste_window_stays_bounded() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    for _ in range(2500):  # 2,500 copies in the same second, then one switch to WeChat
        d("09:10:00", "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=18,
          classes={"id_number": 1}, action="allowed")
    d("09:10:05", "app.focus", app="WeChat.exe", title="chat", pid=2)
    r = rollup(d.events)
    f = r.features()
    assert f["copied_ids"] == 2500 and f["rollup_bound_hits"] >= 1
    assert f["ids_to_messaging"] >= 1                      # the copies still waiting pair with the switch
    assert len(r.to_state()["sens_copies"]) <= MAX_MOMENTS


def test_switch_floods_after_copies_keep_the_pairs() -> None:
    d = Day()
    d.heartbeats("09:00", "11:00")
    for k in range(600):  # each copy is followed by four flagged switches within the paste window
        t = 9 * 3600 + 10 * k
        d(_clock(t), "clipboard.copy", app="crm.exe", title="CRM", trigger="hotkey", chars=18,
          classes={"id_number": 1}, action="allowed")
        for j in range(4):
            d(_clock(t + 1 + j), "app.focus", app="WeChat.exe" if j % 2 == 0 else "game.exe", title="x", pid=2)
    r = rollup(d.events)
    f = r.features()
    assert f["ids_to_messaging"] == 600 and f["copies_to_offlist"] == 600
    assert "switches" in r.to_state()["bounds"]
    assert len(r.to_state()["switches"]) <= MAX_MOMENTS


def test_a_long_idle_after_thousands_of_short_ones_still_counts() -> None:
    d = Day()
    d.heartbeats("09:00", "12:00")
    for k in range(3000):  # idle / active toggles, a second apart, 09:00 to 10:40
        t = 9 * 3600 + 2 * k
        d(_clock(t), "input.idle", threshold_s=1)
        d(_clock(t + 1), "input.active", idle_s=1)
    d("11:00:00", "input.idle", threshold_s=60)            # idle from 10:59
    d("11:59:00", "input.active", idle_s=3600)
    d("10:50:00", "input.idle", threshold_s=300)           # and one that never ended before 10:59
    r = rollup(d.events)
    f = r.features()
    assert f["idle_min"] >= 60 + 4, f["idle_min"]
    assert "idle" in r.to_state()["bounds"]
    assert len(r.to_state()["idle_spans"]) <= MAX_SPANS and len(r.to_state()["idle_starts"]) <= MAX_SPANS


def test_thousands_of_cases_keep_counts_median_and_later_coverage() -> None:
    d = Day()
    d.heartbeats("09:00", "18:00")
    for k in range(2500):  # 2,500 ten-second cases, 09:00 to 10:23
        t = 9 * 3600 + 2 * k
        d(_clock(t), "case.open", case_id=f"C-2024-{k:07d}", app="crm", title="case")
        d(_clock(t + 1), "case.close", case_id=f"C-2024-{k:07d}", active_s=10, idle_s=0, wall_s=10 + k % 3)
    d("15:00:00", "case.open", case_id="C-2024-9999999", app="crm", title="case")
    d("15:05:00", "page.open", url="https://crm.lender.example/customers/5", title="c", app="chrome.exe")
    d("15:30:00", "case.close", case_id="C-2024-9999999", active_s=1800, idle_s=0, wall_s=1800)
    d("16:00:00", "page.open", url="https://crm.lender.example/customers/6", title="c", app="chrome.exe")
    r = rollup(d.events)
    f = r.features()
    assert f["cases_closed"] == 2501 and f["handle_median_s"] == 11
    assert f["pages_without_case"] == 1                    # 15:05 is covered by the late case, 16:00 is not
    assert f["utilisation"] > 0
    assert "cases" in r.to_state()["bounds"] and len(r.to_state()["case_spans"]) <= MAX_SPANS


def test_floods_of_stops_and_process_names_stay_bounded() -> None:
    d = Day()
    d.heartbeats("09:00", "12:00")
    for k in range(2000):
        d(_clock(9 * 3600 + k), "agent.stop", reason="x")
        d(_clock(9 * 3600 + k), "process.start", name=f"msg{k}.exe", exe="x", pid=k + 10, category="messaging")
    r = rollup(d.events)
    state = r.to_state()
    assert len(state["stops"]) <= 1440 and len(state["proc_cat"]) == MAX_APPS
    assert "process_names" in state["bounds"]
    _small(r)


def test_an_ordinary_day_reaches_no_bound() -> None:
    from tests.test_detectors_rollup import _busy_day

    r = rollup(_busy_day().events)
    assert r.features()["rollup_bound_hits"] == 0 and not _bound_moments(r)


def test_a_state_stored_before_the_bounds_loads_with_the_same_meaning() -> None:
    d = Day()
    d.heartbeats("09:00", "10:00")
    for k, wall in enumerate((300, 400, 500)):
        d(f"09:{10 + k}:00", "case.close", case_id=f"C-2024-{k:07d}", active_s=wall, idle_s=0, wall_s=wall)
    d("09:40:00", "agent.stop", reason="x")
    new = rollup(d.events)
    old = new.to_state()
    for key in ("bounds", "settled", "pair_ev", "nocase_ev", "idle_mask", "case_mask", "handle_hist", "horizon"):
        del old[key]
    old["handles"] = [300, 400, 500]
    restored = DayRollup.from_state(ctx(), json.loads(json.dumps(old)))
    assert restored.features() == new.features()
    assert restored.features()["handle_median_s"] == 400


def test_the_handling_time_histogram_median() -> None:
    assert hist_median({}) == 0.0
    assert hist_median({"10": 1, "20": 1}) == 15
    assert hist_median({"10": 3, "700": 1}) == 10
    r = DayRollup.new(ctx(), DAY)
    assert r.features()["handle_median_s"] == 0
