"""Reviewer labels feed back by pattern (detectors.feedback): benign lowers one agent's recurring pattern,
confirmed raises similar findings fleet-wide, hard rules are never lowered; every change is explained.

The fleet is written by hand (no simulator): three teams of eight ordinary agents whose days vary a
little by agent and day, and a few agents whose days carry a pattern.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest

from detectors.context import AgentContext
from detectors.errors import ConfigError, InvalidInput
from detectors.features import FEATURE_NAMES
from detectors.feedback import HARD_RULES, Feedback, Pattern
from detectors.labels import Label
from detectors.render import render_csv, render_html
from detectors.scoring import LEVELS, AgentDayInput, DailyReport, Finding, score_day

DAY1 = date(2026, 11, 16)
TEAMS = ("cs-a", "cs-b", "cs-c")
OVERTIME = {"outside_shift_min": 95.0, "last_activity": 95.0, "active_min": 560.0}          # after_hours
SNOOPING = {"pages_without_case": 26.0, "customers_viewed": 70.0, "customer_pages": 80.0}   # browse_without_case
QUIET_SNOOPING = {"pages_without_case": 4.0, "customers_viewed": 36.0, "customer_pages": 40.0}  # below the rule
USB = {"removable_writes": 2.0, "removable_mb": 30.0, "drive_mounts": 1.0}                # removable_write (hard)


def ordinary(k: int, d: int) -> dict[str, float]:
    """An ordinary day of agent number ``k`` on day number ``d``: small, fixed, per-agent variation."""
    w = ((k * 7 + d * 3) % 5) - 2            # -2..2
    v = ((k * 5 + d * 11) % 7) - 3           # -3..3
    base = {"active_min": 470 + 6 * w, "idle_min": 55 + 4 * v, "first_activity": 3 + w, "last_activity": -2 + v,
            "cases_closed": 22 + w, "handle_mean_s": 690 + 15 * v, "handle_median_s": 670 + 12 * w,
            "cases_per_hour": 2.8 + 0.1 * w, "utilisation": 0.82 + 0.01 * v, "customers_viewed": 22 + w,
            "customer_pages": 26 + v, "pages_without_case": float(abs(w) == 2), "copies": 20 + 2 * v,
            "copied_phones": 12 + w, "messaging_min": 12 + 2 * w, "focus_switches": 180 + 10 * v,
            "pages": 90 + 5 * w}
    return {n: float(base.get(n, 0.0)) for n in FEATURE_NAMES}


AGENTS = [(f"pc-{t[-1]}{k}", t, n * 8 + k) for n, t in enumerate(TEAMS) for k in range(1, 9)]


Special = dict[str, dict[str, float]]


def fleet(d: int, special: Special) -> tuple[list[AgentDayInput], dict[str, list[dict[str, float]]]]:
    today, history = [], {}
    for agent_id, team, k in AGENTS:
        today.append(AgentDayInput(AgentContext(agent_id, team), {**ordinary(k, d), **special.get(agent_id, {})}))
        history[agent_id] = [ordinary(k, d - 1 - h) for h in range(10)]
    return today, history


def day(d: int, special: dict[str, dict[str, float]], labels: list[Label] | None = None) -> DailyReport:
    today, history = fleet(d, special)
    return score_day(DAY1 + timedelta(days=d), today, history, labels or [])


def finding(report: DailyReport, agent_id: str) -> Finding:
    return next(f for f in report.findings if f.agent_id == agent_id)


def labelled(report: DailyReport, agent_id: str, verdict: str, reviewer: str) -> Label:
    """The label a reviewer gives that finding, through its stored (dict) form."""
    f = finding(report, agent_id)
    label = Label(agent_id, report.day, verdict, f.score, tuple(f.rules), f.features, reviewer, "", f.pattern)
    return Label.from_dict(label.to_dict())


@pytest.fixture(scope="module")
def labels() -> list[Label]:
    """Days 0-2: pc-a1 works overtime and pc-a2 writes to a USB stick every day, marked benign by sec.li
    each time; on day 0 pc-c1 browses customers without cases, confirmed by sec.wang."""
    out = []
    for d in range(3):
        special = {"pc-a1": OVERTIME, "pc-a2": USB, **({"pc-c1": SNOOPING} if d == 0 else {})}
        report = day(d, special)
        out += [labelled(report, "pc-a1", "benign", "sec.li"), labelled(report, "pc-a2", "benign", "sec.li")]
        if d == 0:
            out.append(labelled(report, "pc-c1", "confirmed", "sec.wang"))
    return out


TODAY = {"pc-a1": OVERTIME, "pc-b1": OVERTIME, "pc-a2": USB, "pc-b2": QUIET_SNOOPING}


@pytest.fixture(scope="module")
def reports(labels: list[Label]) -> tuple[DailyReport, DailyReport]:
    """Day 3 judged without and with the labels."""
    return day(3, TODAY), day(3, TODAY, labels)


def test_the_labels_hold_the_patterns_the_reviewer_saw(labels: list[Label]) -> None:
    overtime = labels[0].pattern
    assert overtime is not None and "after_hours" in overtime.rules and "outside_shift_min+" in overtime.features
    confirmed = next(lab for lab in labels if lab.verdict == "confirmed").pattern
    assert confirmed is not None and {"pages_without_case+", "customers_viewed+"} <= confirmed.features


def test_three_benign_labels_lower_that_agents_recurring_pattern_and_say_so(
        reports: tuple[DailyReport, DailyReport]) -> None:
    plain, fed = reports
    before, after = finding(plain, "pc-a1"), finding(fed, "pc-a1")
    assert after.score == pytest.approx(before.score * 0.9 ** 3)
    assert after.rank > before.rank
    assert [n.text for n in after.feedback] == ["lowered: marked benign 3 times by sec.li"]
    note = after.feedback[0]
    assert (note.kind, note.count, note.reviewers) == ("lowered", 3, ("sec.li",))
    assert "被 sec.li 标记为误报 3 次" in note.text_zh
    assert after.severity != "none" and "after_hours" in after.rules      # lowered, still listed


def test_another_agent_with_the_same_pattern_is_unaffected(reports: tuple[DailyReport, DailyReport]) -> None:
    plain, fed = reports
    before, after = finding(plain, "pc-b1"), finding(fed, "pc-b1")
    assert before.pattern == finding(fed, "pc-a1").pattern                # the same pattern as pc-a1's
    assert after.score == pytest.approx(before.score) and after.feedback == []
    assert after.severity == before.severity
    assert after.rank <= before.rank                                      # pc-a1 moved below, nobody above


def test_a_confirmed_pattern_raises_a_similar_finding_of_another_agent(
        reports: tuple[DailyReport, DailyReport]) -> None:
    plain, fed = reports
    after = finding(fed, "pc-b2")
    before = next((f for f in plain.findings if f.agent_id == "pc-b2"), None)
    score_before = before.score if before else dict(plain.ranking)["pc-b2"]
    assert after.score == pytest.approx(1 - (1 - score_before) * 0.75)
    assert before is None or LEVELS.index(after.severity) > LEVELS.index(before.severity)
    assert [n.text for n in after.feedback] == [
        f"raised: similar to 1 confirmed finding (latest {DAY1.isoformat()}, by sec.wang)"]
    assert "pc-c1" not in after.feedback[0].text                          # names no other agent
    assert "browse_without_case" not in after.rules                       # the quiet version, below the rule


def test_benign_labels_never_lower_a_hard_rule_finding(reports: tuple[DailyReport, DailyReport]) -> None:
    plain, fed = reports
    before, after = finding(plain, "pc-a2"), finding(fed, "pc-a2")
    assert "removable_write" in after.rules and "removable_write" in HARD_RULES
    assert after.score == pytest.approx(before.score) and after.severity == before.severity
    assert after.rank <= before.rank
    assert [n.text for n in after.feedback] == [
        "not lowered: removable_write is a hard rule (marked benign 3 times by sec.li)"]


def test_only_labelled_and_similar_agents_move(reports: tuple[DailyReport, DailyReport]) -> None:
    plain, fed = reports
    moved = {a for a, s in fed.ranking if abs(s - dict(plain.ranking)[a]) > 1e-12}
    assert moved == {"pc-a1", "pc-b2"}
    assert {f.agent_id for f in fed.findings if f.feedback} == {"pc-a1", "pc-a2", "pc-b2"}


def test_a_new_rule_on_top_of_a_benign_pattern_is_not_lowered(labels: list[Label]) -> None:
    worse = {"pc-a1": {**OVERTIME, **SNOOPING}}
    plain, fed = day(3, worse), day(3, worse, [lab for lab in labels if lab.verdict == "benign"])
    assert finding(fed, "pc-a1").score == pytest.approx(finding(plain, "pc-a1").score)
    assert finding(fed, "pc-a1").feedback == []


def test_one_benign_label_is_noted_but_lowers_nothing(labels: list[Label]) -> None:
    fed = day(3, TODAY, labels[:1])
    f = finding(fed, "pc-a1")
    assert f.score == pytest.approx(finding(day(3, TODAY), "pc-a1").score)
    assert [n.kind for n in f.feedback] == ["benign_once"] and "marked benign once by sec.li" in f.feedback[0].text


def test_a_lowered_finding_is_never_hidden() -> None:
    # a mild pattern whose score only just makes a finding: lowered below the low threshold, still listed
    mild = {"pc-a3": {"outside_shift_min": 62.0, "last_activity": 62.0}}
    past = []
    for d in range(3):
        report = day(d, mild)
        past.append(labelled(report, "pc-a3", "benign", "sec.li"))
    fed = day(3, mild, past)
    f = finding(fed, "pc-a3")
    assert f.feedback[0].kind == "lowered" and f.severity != "none"


def test_feedback_explained_in_json_and_html(reports: tuple[DailyReport, DailyReport]) -> None:
    _, fed = reports
    as_json: dict[str, Any] = fed.to_dict()
    a1 = next(f for f in as_json["findings"] if f["agent_id"] == "pc-a1")
    assert a1["feedback"][0]["text"] == "lowered: marked benign 3 times by sec.li"
    assert a1["feedback"][0]["count"] == 3 and a1["feedback"][0]["reviewers"] == ["sec.li"]
    assert Pattern.from_finding(a1) == finding(fed, "pc-a1").pattern
    html = render_html(fed)
    assert "lowered: marked benign 3 times by sec.li" in html and "已降低：被 sec.li 标记为误报 3 次" in html
    assert "raised: similar to 1 confirmed finding" in html
    rows = {r["agent_id"]: r for r in csv.DictReader(io.StringIO(render_csv(fed)))}
    assert rows["pc-a1"]["feedback"] == "lowered: marked benign 3 times by sec.li" and rows["pc-b1"]["feedback"] == ""


def test_labels_without_pattern_and_bad_patterns() -> None:
    old = Label.from_dict({"agent_id": "pc-a1", "date": "2026-11-16", "verdict": "benign", "score": 0.7})
    assert old.pattern is None
    with pytest.raises(InvalidInput):
        Pattern(frozenset(), frozenset({"no_such_feature+"}))
    with pytest.raises(InvalidInput):
        Label.from_dict({**old.to_dict(), "pattern": {"features": ["active_min*"]}})
    with pytest.raises(ConfigError):
        Feedback(similarity=1.5)
    legacy = Pattern.from_finding({"rules": ["after_hours"], "reason_details": [
        {"feature": "night_min", "peer_z": 4.0, "self_z": 0.0}, {"feature": "cases_per_hour", "peer_z": -5.0}]})
    assert legacy.items == {"rule:after_hours", "outside_shift_min+", "night_min+", "cases_per_hour-"}


def test_fleet_wide_matching_agrees_with_pattern_similarity() -> None:
    # the confirmed look-up is one matrix product per block of rows; it must pick exactly the labels
    # whose pattern is similar by Pattern.similarity, whatever the mix of rules and deviations
    import numpy as np

    from detectors.feedback import PatternBuilder, apply_labels
    from detectors.rules import RuleSet

    rng = np.random.default_rng(7)
    n, nf = 600, len(FEATURE_NAMES)
    F = np.abs(rng.normal(0, 1, (n, nf))) * (rng.random((n, nf)) < 0.2) * 12
    builder = PatternBuilder(F, rng.normal(0, 2.5, (n, nf)), rng.normal(0, 2.5, (n, nf)), rng.random(n) < 0.7,
                             RuleSet())
    ids = [f"pc-{i}" for i in range(n)]
    labels = [Label(ids[i], DAY1, "confirmed", 0.9, pattern=builder.of(i)) for i in range(0, 120, 3)]
    labels.append(Label("pc-x", DAY1, "confirmed", 0.9, pattern=Pattern(frozenset({"retired_rule"}),
                                                                       frozenset({"copied_ids+"}))))
    adjusted = apply_labels(DAY1 + timedelta(days=1), ids, np.full(n, 0.5), builder, labels)
    for i in range(n):
        p = builder.of(i)
        expected = sum(1 for lab in labels if p.items and lab.pattern and p.similarity(lab.pattern) >= 0.5)
        got = [note.count for note in adjusted.notes.get(i, []) if note.kind == "raised"]
        assert got == ([expected] if expected else []), i


def test_many_benign_labels_lower_one_agent_by_a_bounded_step_and_nobody_else() -> None:
    # six days marked benign: more than tune()'s min_rule_labels, all from one agent
    past = [labelled(day(d, {"pc-a1": OVERTIME}), "pc-a1", "benign", "sec.li" if d % 2 else "sec.wang")
            for d in range(6)]
    plain, fed = day(6, TODAY), day(6, TODAY, past)
    assert fed.rules == plain.rules                                        # no fleet-wide re-grading
    a1 = finding(fed, "pc-a1")
    assert a1.score == pytest.approx(finding(plain, "pc-a1").score * 0.9 ** 3)   # at most 3 steps
    assert a1.feedback[0].text == "lowered: marked benign 6 times by sec.wang, sec.li"
    b1, b1_plain = finding(fed, "pc-b1"), finding(plain, "pc-b1")
    assert (b1.score, b1.severity, b1.feedback) == (pytest.approx(b1_plain.score), b1_plain.severity, [])
