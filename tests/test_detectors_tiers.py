"""Ranking tiers (detectors/tiers.py): breaches and tamper signals first, anomaly-only findings after,
each tier in calibrated-score order; and the tamper features behind them (the agent coming back
while the shift went on, spool drops)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.ensemble import EnsembleResult, MemberResult
from detectors.rules import RuleSet
from detectors.scoring import AgentDayInput, ScoringConfig, score_day
from detectors.synthetic import fleet_day
from detectors.tiers import BREACH_RULES, TAMPER_RULES, TIERS, chance, tier_of
from tests.test_detectors_rollup import Day, ctx, rollup

START = {"version": "1", "os": "w", "hostname": "h", "user": "u"}

# one value that breaks each rule of the first tier, and contextual ones of the second
BREACHES = {"removable_writes": 2, "ids_to_messaging": 1, "copied_ids": 12, "remote_access_starts": 1,
            "screen_capture_starts": 1, "seq_missing": 4, "chain_breaks": 1, "batch_gaps": 1,
            "returns_in_shift": 1, "spool_dropped": 30, "unsigned_answers": 1, "policy_mismatches": 1}
CONTEXTUAL = {"pages_without_case": 25, "outside_shift_min": 90, "offlist_site_min": 80, "drive_mounts": 1}


def _report(seed: int, breaches: dict[int, str], contextual: dict[int, str], anomalies: int) -> tuple:
    sd = fleet_day(seed, teams=3, per_team=10, anomalies=anomalies)
    for table, planted in ((BREACHES, breaches), (CONTEXTUAL, contextual)):
        for i, feature in planted.items():
            row = sd.today[i]
            f = dict(row.features)
            f[feature] = float(table[feature])
            sd.today[i] = AgentDayInput(row.ctx, f)
    return sd, score_day(sd.day, sd.today, sd.history)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000),
       breaches=st.dictionaries(st.integers(0, 29), st.sampled_from(sorted(BREACHES)), max_size=4),
       contextual=st.dictionaries(st.integers(0, 29), st.sampled_from(sorted(CONTEXTUAL)), max_size=4),
       anomalies=st.integers(0, 6))
def test_every_breach_ranks_above_every_anomaly_only_finding(seed: int, breaches: dict[int, str],
                                                            contextual: dict[int, str], anomalies: int) -> None:
    sd, report = _report(seed, breaches, {k: v for k, v in contextual.items() if k not in breaches}, anomalies)
    ranks = {a: k for k, (a, _) in enumerate(report.ranking, start=1)}
    first = [f for f in report.findings if f.tier == "breach"]
    rest = [f for f in report.findings if f.tier == "anomaly"]
    rules = RuleSet()
    breaking = {r.ctx.agent_id for r in sd.today
                if tier_of(h.rule.name for h in rules.evaluate(r.features)) == 0}
    assert {sd.today[i].ctx.agent_id for i in breaches} <= breaking     # planted ones, and planted scenarios
    assert {f.agent_id for f in first} == breaking
    assert all(set(f.rules) & (BREACH_RULES | TAMPER_RULES) for f in first)
    if first and rest:
        assert max(f.rank for f in first) < min(f.rank for f in rest)
    for tier in (first, rest):  # within a tier: the calibrated score, smallest chance first
        chances = [f.chance for f in sorted(tier, key=lambda f: f.rank)]
        assert chances == sorted(chances)
    assert [f.rank for f in report.findings] == sorted(ranks[f.agent_id] for f in report.findings)
    assert all(0 < f.chance <= 1 for f in report.findings)


def test_a_breach_outranks_a_stronger_anomaly() -> None:
    sd = fleet_day(11, teams=4, per_team=12, anomalies=0)
    loud, quiet = sd.today[3], sd.today[7]
    f = dict(loud.features)
    f.update(active_min=900, copies=400, focus_switches=2500, pages=900, customer_pages=600,
             pages_without_case=60, outside_shift_min=200)  # far out, and only contextual rules
    sd.today[3] = AgentDayInput(loud.ctx, f)
    g = dict(quiet.features)
    g["removable_writes"] = 1
    sd.today[7] = AgentDayInput(quiet.ctx, g)
    report = score_day(sd.day, sd.today, sd.history)
    by_id = {x.agent_id: x for x in report.findings}
    a, b = by_id[quiet.ctx.agent_id], by_id[loud.ctx.agent_id]
    assert a.tier == "breach" and b.tier == "anomaly"
    assert b.chance < a.chance and b.score > a.score     # more unusual by the numbers ...
    assert a.rank == 1 and b.rank == 2                     # ... but the USB write is read first
    assert report.to_dict()["findings"][0]["tier"] == "breach"


def test_a_gap_is_a_breach_only_when_the_agent_came_back() -> None:
    assert tier_of(["agent_silenced"]) == tier_of(["stopped_in_shift", "browse_without_case"]) == 1
    assert tier_of(["agent_silenced", "returned_in_shift"]) == tier_of(["stopped_in_shift", "returned_in_shift"]) == 0
    assert tier_of(["seq_gap"]) == 0 and tier_of([]) == 1 and TIERS == ("breach", "anomaly")


def _member(name: str, view: str, p: list[float]) -> MemberResult:
    return MemberResult(name, view, np.array(p), np.array(p))


def test_calibrated_chance_is_fisher_over_views() -> None:
    p = [0.5, 0.1, 0.02]
    result = EnsembleResult([_member("a", "peer", p), _member("b", "peer", p), _member("r", "raw", [0.5, 0.5, 0.5]),
                             _member("s", "self", [0.5, 0.1, float("nan")])], np.zeros(3))
    got = chance(result)
    x = -math.log(0.1) - math.log(0.5) - math.log(0.1)    # agent 1: three views, Gamma(3) tail
    assert got[1] == pytest.approx(math.exp(-x) * (1 + x + x * x / 2))
    y = -math.log(0.02) - math.log(0.5)                    # agent 2: no own history, two views only
    assert got[2] == pytest.approx(math.exp(-y) * (1 + y))
    assert got[2] > 0.02 * 0.5                             # a missing view is no evidence, not a zero
    assert got.min() > 0 and got.max() <= 1
    weighted = chance(result, {"r": 3.0})                  # a heavier rules view moves the chances
    assert weighted[0] != pytest.approx(got[0])


# -- the tamper features -------------------------------------------------------------------------
def _killed(back: str | None, stop: bool = False) -> Day:
    d = Day()
    d("08:55:00", "agent.start", **START)
    d.heartbeats("08:55", "12:00")
    if stop:
        d("12:00:10", "agent.stop", reason="signal")
    if back is not None:
        d(f"{back}:00", "agent.start", **START)
        d.heartbeats(back, "18:00")
    return d


def _returns(f: dict[str, float]) -> tuple[float, float, float, float]:
    return f["silent_shift_min"], f["stops_in_shift"], f["returns_in_shift"], f["stopped_shift_min"]


def test_a_kill_and_restart_mid_shift_is_a_return_with_its_moment() -> None:
    r = rollup(_killed("12:20").events)
    f = r.features()
    assert _returns(f) == (20, 0, 1, 0)
    hits = [h.rule.name for h in RuleSet().evaluate(f)]
    assert "returned_in_shift" in hits and "agent_silenced" not in hits   # 20 min: below the silence rule
    assert tier_of(hits) == 0
    [moment] = [e for e in r.evidence() if e["kind"] == "return"]
    assert moment["ts"][11:16] == "12:20" and "no clean stop" in moment["what"]


def test_a_stop_counts_as_a_return_only_when_the_agent_came_back_in_the_shift() -> None:
    assert _returns(rollup(_killed("12:05", stop=True).events).features()) == (0, 0, 0, 0)   # a quick reboot
    r = rollup(_killed("13:00", stop=True).events)                                         # off an hour, back
    assert _returns(r.features()) == (0, 1, 1, 59)
    [moment] = [e for e in r.evidence() if e["kind"] == "return"]
    assert "back at 13:00" in moment["what"]
    f = rollup(_killed(None, stop=True).events).features()       # stopped at noon: the day ends there
    assert _returns(f) == (0, 1, 0, 359)
    hits = [h.rule.name for h in RuleSet().evaluate(f)]
    assert "stopped_in_shift" in hits and tier_of(hits) == 1
    f = rollup(_killed(None).events).features()                  # silent from noon: the PC went off
    assert _returns(f) == (360, 0, 0, 0) and tier_of(h.rule.name for h in RuleSet().evaluate(f)) == 1


def test_a_silence_the_same_process_resumes_from_is_no_return() -> None:
    d = Day()
    d("08:55:00", "agent.start", **START)
    d.heartbeats("08:55", "12:00")
    d.heartbeats("12:45", "18:00")                               # the PC slept 45 min, no new agent.start
    f = rollup(d.events).features()
    assert _returns(f) == (45, 0, 0, 0)
    hits = [h.rule.name for h in RuleSet().evaluate(f)]
    assert hits == ["agent_silenced"] and tier_of(hits) == 1


def test_the_first_start_and_a_reinstall_after_retirement_are_not_returns() -> None:
    from tests.test_rollup_presence import _epoch

    d = Day()
    d("09:00:00", "agent.start", **START)
    d.heartbeats("09:00", "18:00")
    assert rollup(d.events).features()["returns_in_shift"] == 0
    assert rollup(_killed("14:00").events, ctx(retired_at=_epoch("13:00"))).features()["returns_in_shift"] == 0


def test_spool_drops_are_the_rise_of_dropped_total_in_any_order() -> None:
    d = Day()
    for m, dropped in ((0, 5), (1, 5), (2, 9), (3, 12)):
        d(f"10:0{m}:00", "agent.heartbeat", spool_depth=3, dropped_total=dropped, cpu_pct=1.0, rss_mb=40.0)
    events = d.events
    for order in (events, events[::-1], [events[2], events[0], events[3], events[1]]):
        r = rollup(order)
        assert r.features()["spool_dropped"] == 7
    assert any(e["kind"] == "spool_drop" and "7 events" in e["what"] for e in r.evidence())
    assert "spool_drops" in {h.rule.name for h in RuleSet().evaluate(r.features())}
    state = r.to_state()
    del state["dropped"]                                  # a rollup saved before the feature existed
    from detectors.rollup import DayRollup
    old = DayRollup.from_state(ctx(), state)
    assert old.features()["spool_dropped"] == 0
    reset = Day()
    for m, dropped in ((0, 40), (1, 2)):                  # a new spool: the counter starts again
        reset(f"10:0{m}:00", "agent.heartbeat", spool_depth=0, dropped_total=dropped, cpu_pct=1.0, rss_mb=4.0)
    assert rollup(reset.events).features()["spool_dropped"] == 2


def test_a_restart_ranks_in_the_breach_tier_with_its_evidence() -> None:
    sd = fleet_day(3, teams=3, per_team=10, anomalies=0)
    row = sd.today[4]
    f = dict(row.features)
    f.update(returns_in_shift=1, silent_shift_min=20)
    evidence = [{"ts": "2024-05-06T12:20:00+08:00", "kind": "return", "seq": 90, "what": "agent started again"}]
    sd.today[4] = AgentDayInput(row.ctx, f, evidence)
    report = score_day(sd.day, sd.today, sd.history, config=ScoringConfig())
    finding = next(x for x in report.findings if x.agent_id == row.ctx.agent_id)
    assert finding.tier == "breach" and finding.rank == 1
    assert "returned_in_shift" in finding.rules
    assert [e["kind"] for e in finding.evidence] == ["return"]
    assert date.fromisoformat(report.to_dict()["date"]) == sd.day


def test_the_report_shows_the_tiers_in_reading_order() -> None:
    import csv
    import io

    from detectors.render import one_in, render_csv, render_html

    sd, report = _report(5, {2: "removable_writes", 9: "seq_missing"}, {4: "pages_without_case"}, 0)
    html = render_html(report)
    assert html.index('id="tier-breach"') < html.index('id="tier-anomaly"')
    assert html.count('id="tier-breach"') == 1 and html.count('id="tier-anomaly"') == 1
    first = report.findings[0]
    assert f"as unusual as 1 in {one_in(first.chance)} ordinary agent-days" in html
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [r["tier"] for r in rows] == [f.tier for f in report.findings]
    assert rows[0]["tier"] == "breach" and rows[-1]["tier"] == "anomaly"
    assert (one_in(1.0), one_in(0.25), one_in(1 / 4321)) == ("1", "4", "4,300")


def test_reviewer_feedback_moves_the_calibrated_score_within_its_tier() -> None:
    from tests.test_label_feedback import OVERTIME, TODAY, USB, day, finding, labelled

    labels = []
    for d in range(3):
        report = day(d, {"pc-a1": OVERTIME, "pc-a2": USB})
        labels += [labelled(report, "pc-a1", "benign", "sec.li"), labelled(report, "pc-a2", "benign", "sec.li")]
    plain, fed = day(3, TODAY), day(3, TODAY, labels)
    before, after = finding(plain, "pc-a1"), finding(fed, "pc-a1")
    assert after.tier == before.tier == "anomaly"
    assert after.chance > before.chance and after.rank > before.rank      # lowered: less evidence, read later
    usb = finding(fed, "pc-a2")                                           # a hard rule: never lowered
    assert usb.tier == "breach" and usb.rank == 1 and usb.chance == pytest.approx(finding(plain, "pc-a2").chance)
    for report in (plain, fed):
        keys = [(TIERS.index(f.tier), f.chance) for f in report.findings]
        assert keys == sorted(keys)
