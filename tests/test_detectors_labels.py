"""Reviewer labels: validation, the F2 threshold, rule re-grading and re-thresholding, use in score_day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from detectors.errors import InvalidInput
from detectors.labels import Label, Thresholds, best_threshold, tune
from detectors.rules import RuleSet
from detectors.scoring import ScoringConfig, score_day, tuned_for_day
from detectors.synthetic import fleet_day

DAY = date(2024, 5, 6)


AGENTS = iter(range(10**6))


def lab(verdict: str, score: float, rules: tuple[str, ...] = (), **values: float) -> Label:
    n = next(AGENTS)
    return Label(f"a{n % 4}", DAY, verdict, score, rules, values, f"sec{n % 3}")  # 4 agents, 3 reviewers in turn


def test_label_validation_and_round_trip() -> None:
    label = Label("a1", DAY, "follow_up", 0.7, ("bulk_id_copy",), {"copied_ids": 12.0}, "sec1", "asked lead")
    assert label.positive and Label.from_dict(label.to_dict()) == label
    for bad in ({"verdict": "maybe"}, {"score": float("nan")}):
        with pytest.raises(InvalidInput):
            Label.from_dict({**label.to_dict(), **bad})
    with pytest.raises(InvalidInput):
        Label.from_dict({"agent_id": "a1"})
    with pytest.raises(InvalidInput):
        Thresholds(0.7, 0.6, 0.8)


def test_best_threshold_prefers_recall() -> None:
    scored = [(0.9, True), (0.8, True), (0.75, False), (0.7, True), (0.6, False), (0.5, False)]
    assert best_threshold(scored) == 0.7
    assert best_threshold([(0.9, True)]) is None and best_threshold([(0.2, False)]) is None


def test_score_thresholds_move_within_a_step() -> None:
    base = Thresholds(0.5, 0.62, 0.8)
    labels = [lab("benign", 0.55 + k * 0.01) for k in range(8)] + [lab("confirmed", 0.72), lab("confirmed", 0.9)]
    tuned, _ = tune(labels, base, RuleSet())
    assert tuned.medium == pytest.approx(0.72)
    assert tuned.medium - tuned.low == pytest.approx(base.medium - base.low)
    far = [lab("benign", 0.95) for _ in range(9)] + [lab("confirmed", 0.99)]
    assert tune(far, base, RuleSet())[0].medium == pytest.approx(0.62 + 0.15)
    assert tune(labels[:5], base, RuleSet())[0] == base                     # too few labels


def test_a_rule_that_is_always_benign_loses_a_grade() -> None:
    labels = [lab("benign", 0.6, ("drive_mount",), drive_mounts=1) for _ in range(5)]
    _, rules = tune(labels, Thresholds(), RuleSet())
    assert rules.by_name["drive_mount"].severity == "low"                   # already the lowest grade
    labels = [lab("benign", 0.6, ("after_hours",), outside_shift_min=70) for _ in range(5)]
    _, rules = tune(labels, Thresholds(), RuleSet())
    assert rules.by_name["after_hours"].severity == "low" and rules.by_name["after_hours"].enabled


def test_a_rule_threshold_rises_above_benign_values() -> None:
    labels = [lab("benign", 0.6, ("browse_without_case",), pages_without_case=v) for v in (10, 11, 12, 12, 14)]
    labels += [lab("confirmed", 0.9, ("browse_without_case",), pages_without_case=v) for v in (25, 60)]
    _, rules = tune(labels, Thresholds(), RuleSet())
    assert rules.by_name["browse_without_case"].threshold == 25
    labels.append(lab("confirmed", 0.9, ("browse_without_case",), pages_without_case=11))
    _, rules = tune(labels, Thresholds(), RuleSet())
    assert rules.by_name["browse_without_case"].threshold == 10             # a real case at 11 keeps it low


def test_one_agents_benign_labels_do_not_retune_a_rule_for_the_fleet() -> None:
    labels = [Label("a1", DAY - timedelta(days=k), "benign", 0.6, ("after_hours",), {"outside_shift_min": 70},
                    "sec.li") for k in range(8)]
    assert tune(labels, Thresholds(), RuleSet())[1].by_name["after_hours"].severity == "medium"
    labels += [Label(f"b{k}", DAY, "benign", 0.6, ("after_hours",), {"outside_shift_min": 70}, "sec.li")
               for k in range(2)]
    assert tune(labels, Thresholds(), RuleSet())[1].by_name["after_hours"].severity == "medium", "one reviewer"
    labels.append(Label("b0", DAY, "benign", 0.6, ("after_hours",), {"outside_shift_min": 70}, "sec.wang"))
    assert tune(labels, Thresholds(), RuleSet())[1].by_name["after_hours"].severity == "low"   # 3 agents, 2 reviewers


def test_one_reviewer_alone_cannot_retune_a_rule_for_the_fleet() -> None:
    """An insider among the reviewers marks many colleagues' after-hours findings benign: no fleet-wide change."""
    labels = [Label(f"c{k}", DAY, "benign", 0.6, ("after_hours",), {"outside_shift_min": 70}, "sec.insider")
              for k in range(12)]
    labels += [Label(f"c{k}", DAY, "benign", 0.6, ("browse_without_case",), {"pages_without_case": 12.0},
                     "sec.insider") for k in range(6)]
    labels.append(Label("c0", DAY, "confirmed", 0.9, ("browse_without_case",), {"pages_without_case": 40.0}, "x"))
    _, rules = tune(labels, Thresholds(), RuleSet())
    assert rules.to_dict() == RuleSet().to_dict()


def test_benign_labels_never_regrade_or_rethreshold_a_hard_rule() -> None:
    labels = [lab("benign", 0.6, ("removable_write", "remote_access"), removable_writes=v, remote_access_starts=1)
              for v in (1, 1, 2, 2, 3)]
    labels += [lab("confirmed", 0.9, ("removable_write",), removable_writes=v) for v in (40, 60)]
    _, rules = tune(labels, Thresholds(), RuleSet())
    assert rules.to_dict()["removable_write"] == RuleSet().to_dict()["removable_write"]
    assert rules.to_dict()["remote_access"] == RuleSet().to_dict()["remote_access"]
    soft = [lab("benign", 0.6, ("night_work",), night_min=40) for _ in range(5)]
    assert tune(soft, Thresholds(), RuleSet())[1].by_name["night_work"].severity == "low"     # was medium


def test_score_day_uses_past_labels_only() -> None:
    sd = fleet_day(31, teams=3, per_team=10, anomalies=3)
    past = [Label(f"x{k}", sd.day - timedelta(days=1), "benign", 0.6 + k * 0.005) for k in range(12)]
    past.append(Label("y", sd.day - timedelta(days=2), "confirmed", 0.75))
    report = score_day(sd.day, sd.today, sd.history, labels=past)
    assert report.thresholds.medium == pytest.approx(0.75)
    frozen = score_day(sd.day, sd.today, sd.history, labels=past, config=ScoringConfig(tune_from_labels=False))
    assert frozen.thresholds.medium == ScoringConfig().threshold_medium
    future = [Label(p.agent_id, sd.day + timedelta(days=1), p.verdict, p.score) for p in past]
    assert score_day(sd.day, sd.today, sd.history, labels=future).thresholds == frozen.thresholds


def test_alerts_and_the_report_judge_a_day_with_the_same_tuned_rules() -> None:
    # detectors.scoring.tuned_for_day is the one definition the real-time alerts and score_day share
    sd = fleet_day(31, teams=3, per_team=10, anomalies=3)
    past = [Label(f"x{k}", sd.day - timedelta(days=1), "benign", 0.6 + k * 0.005, ("after_hours",),
                  {"outside_shift_min": 70.0}, f"sec{k % 2}") for k in range(12)]
    report = score_day(sd.day, sd.today, sd.history, labels=past)
    thresholds, rules = tuned_for_day(sd.day, past)
    assert thresholds == report.thresholds and rules.to_dict() == report.rules
    assert rules.to_dict() != ScoringConfig().rule_set().to_dict()  # the labels did change something
    same_day = [Label(p.agent_id, sd.day, p.verdict, p.score, p.rules, p.values) for p in past]
    untouched, _ = tuned_for_day(sd.day, same_day)
    assert untouched == ScoringConfig().thresholds()
