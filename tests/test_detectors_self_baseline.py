"""The agent's own past as a baseline (issue 15 item 5), on hand-written agent-days and histories.

- A rise against one's own normal that stays inside the peers' range is found through the self view.
- Rules that judge levels adapt to an agent's own normal: a lead's steady 150 look-ups a day do not
  fire, three times that normal does; three times one's usual 3 caseless look-ups fires below the
  rule's 10; hard breaches and tamper signals never adapt; a slow ramp does not train the threshold.
"""

from __future__ import annotations

import numpy as np
import pytest

from detectors.context import AgentContext
from detectors.errors import ConfigError
from detectors.features import FEATURE_NAMES
from detectors.rules import Adaptation, RuleSet
from detectors.scoring import ScoringConfig, score_day
from tests.desk_days import Fleet, Habit, with_

COL = {n: j for j, n in enumerate(FEATURE_NAMES)}
RULES = RuleSet()
ACTIVE = [r.name for r in RULES.active]


def history(days: int, **levels: list[float] | float) -> np.ndarray:
    """``days`` of features, zero but for the given ones (a list: one value per day, oldest first)."""
    h = np.zeros((days, len(FEATURE_NAMES)))
    for name, value in levels.items():
        h[:, COL[name]] = value
    return h


def limit(rule: str, h: np.ndarray, adaptation: Adaptation | None = None) -> float:
    return float(RULES.thresholds([h], adaptation or Adaptation())[0, ACTIVE.index(rule)])


def test_a_level_rule_adapts_to_the_own_normal_within_its_cap() -> None:
    assert limit("browse_without_case", history(20, pages_without_case=150)) == 200     # 2 x 150, capped at 20 x 10
    assert limit("browse_without_case", history(20, pages_without_case=40)) == 80
    assert limit("browse_without_case", history(20, pages_without_case=3)) == 6         # 3 + 3 spreads of 1
    assert limit("browse_without_case", history(20, pages_without_case=0)) == 5         # never below half the rule
    erratic = history(20, pages_without_case=[0.0, 30.0] * 10)                          # 0 and 30 in turn
    assert limit("browse_without_case", erratic) <= 10                                  # being erratic buys nothing
    assert limit("after_hours", history(20, outside_shift_min=120)) == 240
    assert limit("browse_without_case", history(12, pages_without_case=150)) == 10      # 9 older days < 10
    assert limit("browse_without_case", history(13, pages_without_case=150)) == 200
    assert limit("browse_without_case", history(20, pages_without_case=150), Adaptation(cap=3)) == 30


@pytest.mark.parametrize(("rule", "feature"), [
    ("removable_write", "removable_writes"), ("remote_access", "remote_access_starts"),
    ("screen_capture", "screen_capture_starts"), ("id_to_messaging", "ids_to_messaging"),
    ("ids_to_messaging", "ids_to_messaging"), ("copy_to_offlist", "copies_to_offlist"),
    ("agent_silenced", "silent_shift_min"), ("stopped_in_shift", "stops_in_shift"), ("seq_gap", "seq_missing"),
    ("chain_break", "chain_breaks"), ("batch_gap", "batch_gaps"), ("forged_answers", "unsigned_answers"),
    ("policy_mismatch", "policy_mismatches"), ("rollup_bound", "rollup_bound_hits"), ("drive_mount", "drive_mounts"),
])
def test_hard_breaches_and_tamper_never_adapt(rule: str, feature: str) -> None:
    h = history(30, **{feature: 50.0})                     # every day of the past full of it
    assert limit(rule, h) == RULES.by_name[rule].threshold
    hits = RULES.evaluate({feature: 50.0}, RULES.thresholds([h], Adaptation())[0])
    assert rule in [x.rule.name for x in hits]


def test_a_slow_ramp_does_not_train_the_threshold() -> None:
    ramp = list(np.linspace(5, 60, 30).round())             # a month creeping from 5 to 60 look-ups a day
    h = history(30, pages_without_case=ramp)
    own = limit("browse_without_case", h)
    assert own <= 2 * 20                                    # the older half's median (about 14) rules
    assert "browse_without_case" in [x.rule.name for x in RULES.evaluate(
        {"pages_without_case": 60.0}, RULES.thresholds([h], Adaptation())[0])]   # today's 60 still fires
    fired = 0
    for d in range(13, 30):                                 # every day of the climb, judged by its own past
        day_limit = limit("browse_without_case", h[:d])
        fired += ramp[d] >= day_limit
    assert fired >= 8                                       # the climb itself shows up, day after day
    skip_recent = history(30, pages_without_case=[5.0] * 25 + [100.0] * 5)
    assert limit("browse_without_case", skip_recent) == 10  # a sudden new level counts for nothing yet


def test_the_adaptation_settings_are_validated() -> None:
    for bad in ({"adapt_margin": 0.5}, {"adapt_cap": 0}, {"adapt_min_days": 0}, {"adapt_skip_days": -1},
                {"adapt_floor": 2.0}, {"adapt_spread_k": 0}):
        with pytest.raises(ConfigError):
            ScoringConfig.from_dict(bad)
    assert ScoringConfig().adaptation() == Adaptation()


def _lead_fleet() -> tuple[Fleet, AgentContext]:
    fleet = Fleet.teams(teams=2, per_team=10, seed=6)
    lead = AgentContext("t0lead", "team-0", role="lead")
    fleet.add(lead, Habit(cases=10, lookups=150))
    return fleet, lead


def test_a_leads_steady_review_load_does_not_fire_but_three_times_it_does() -> None:
    fleet, lead = _lead_fleet()
    day, rows, past = fleet.inputs(16)
    steady = {f.agent_id: f for f in score_day(day, rows, past).findings}.get(lead.agent_id)
    assert steady is None or "browse_without_case" not in steady.rules
    assert 120 <= rows[-1].features["pages_without_case"] <= 180
    default = score_day(day, rows, {a: h[:5] for a, h in past.items()})   # too little history: the rule's own
    assert "browse_without_case" in next(f for f in default.findings if f.agent_id == lead.agent_id).rules

    day, rows, past = fleet.inputs(16, today={lead.agent_id: Habit(cases=10, lookups=450, scatter=False)})
    finding = next(f for f in score_day(day, rows, past).findings if f.agent_id == lead.agent_id)
    assert "browse_without_case" in finding.rules
    reason = next(r for r in finding.reasons if r.rule == "browse_without_case")
    assert reason.value == 450 and reason.rule_threshold == 200            # 2 x ~150, at the cap of 20 x 10
    assert "raised to own normal (default 10)" in reason.text


def test_three_times_the_own_lookups_within_the_peer_range_is_found_by_the_self_baseline() -> None:
    fleet = Fleet.teams(teams=2, per_team=10, seed=3)
    for k, ctx in enumerate(fleet.contexts):             # peers' usual caseless look-ups: 1 to 11 a day
        fleet.habits[ctx.agent_id] = with_(fleet.habits[ctx.agent_id], lookups=[1, 2, 4, 5, 6, 7, 8, 9, 10, 11][k % 10])
    target = "t0a02"
    fleet.habits[target] = with_(fleet.habits[target], lookups=3)
    day, rows, past = fleet.inputs(16, today={target: with_(fleet.habits[target], lookups=9, scatter=False)})
    report = score_day(day, rows, past)
    finding = next(f for f in report.findings if f.agent_id == target)
    top = [(f.agent_id, [r.text for r in f.reasons]) for f in report.findings[:5]]
    assert finding.rank <= 3, top
    reason = next(r for r in finding.reasons if r.feature == "pages_without_case")
    assert reason.value == 9 and reason.self_z >= 3 > reason.peer_z          # the peers hide it, the past does not
    assert finding.rules == ["browse_without_case"] and reason.rule_threshold is not None
    assert reason.rule_threshold < 9 <= 10                                   # the rule's own 10 would not fire
    assert "lowered to own normal (default 10)" in reason.text
    peers = [f for f in report.findings if f.agent_id != target and "browse_without_case" in f.rules]
    assert not peers, [(f.agent_id, [r.text for r in f.reasons]) for f in peers]   # their 10 a day is normal


def test_history_stored_before_a_feature_existed_is_not_compared_on_it() -> None:
    """After an upgrade the stored days lack the new features: they are not read as zeros (everyone
    would look far above their own past), and days that have a feature are the only ones it uses."""
    from detectors.views import self_view

    today = np.zeros((1, len(FEATURE_NAMES)))
    today[0, COL["idle_periods"]] = 12.0
    today[0, COL["pages_without_case"]] = 30.0
    old = history(10, idle_periods=np.nan, pages_without_case=3.0)
    view = self_view(today, [old], min_history=5)
    assert view.has[0] and view.z[0, COL["idle_periods"]] == 0.0 and np.isnan(view.median[0, COL["idle_periods"]])
    assert view.z[0, COL["pages_without_case"]] > 3 and view.median[0, COL["pages_without_case"]] == 3.0
    half = history(10, idle_periods=[np.nan] * 4 + [12.0] * 6)
    view = self_view(today, [half], min_history=5)
    assert view.median[0, COL["idle_periods"]] == 12.0 and view.z[0, COL["idle_periods"]] == 0.0
    short = history(10, idle_periods=[np.nan] * 7 + [1.0] * 3)   # 3 days with it: fewer than min_history
    assert self_view(today, [short], min_history=5).z[0, COL["idle_periods"]] == 0.0


def test_scoring_reads_a_missing_history_feature_as_unknown_not_zero() -> None:
    from detectors.scoring import AgentDayInput, compute

    ctx = [AgentContext(agent_id=f"a{i}", team="t") for i in range(8)]
    today = [AgentDayInput(c, {"active_min": 400.0, "longest_active_min": 300.0, "cases_closed": 30.0}) for c in ctx]
    stored = {"active_min": 400.0, "cases_closed": 30.0}   # no longest_active_min: stored by the release before
    config = ScoringConfig()
    ds = compute(today, {c.agent_id: [stored] * 12 for c in ctx}, config, config.rule_set())
    assert ds.own.has.all() and (ds.own.z[:, COL["longest_active_min"]] == 0).all()
    assert np.isnan(ds.own.median[:, COL["longest_active_min"]]).all()
    assert (ds.own.median[:, COL["active_min"]] == 400).all()
    with_it = {**stored, "longest_active_min": 60.0}
    ds = compute(today, {c.agent_id: [with_it] * 12 for c in ctx}, config, config.rule_set())
    assert (ds.own.z[:, COL["longest_active_min"]] > 3).all()   # a stored 0 or 60 is still compared
