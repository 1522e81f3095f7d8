"""Presence without work and without a human (issue 15 item 3), on hand-written agent-days.

A mouse mover keeps the PC "active" all shift with no idle period while a tenth of the usual cases get
closed; input on a timer comes back like clockwork. Both must show in the rollup's features and in the
report, with the same numeric reasons as everything else, on the low side where that is what matters.
"""

from __future__ import annotations

import random
from datetime import date

import pytest

from detectors.context import AgentContext
from detectors.features import FEATURE_BY_NAME
from detectors.presence import bridge, rhythm, runs
from detectors.scoring import score_day
from tests.desk_days import Fleet, Habit, rollup, with_

DAY = date(2024, 5, 6)
PRESENCE = ("idle_share", "idle_periods", "longest_active_min", "input_regularity", "idle_min", "cases_per_hour",
            "utilisation", "cases_closed")


def test_runs_and_bridged_absences() -> None:
    assert runs(0) == []
    assert runs(0b1110011) == [(0, 2), (4, 7)]
    present = 0b1111_0011_0000_1111                 # absences of 4 and 2 minutes
    assert runs(bridge(present, 3)) == [(0, 4), (8, 16)]
    assert runs(bridge(present, 5)) == [(0, 16)]


def test_rhythm_from_bitmaps() -> None:
    full = (1 << 540) - 1
    assert rhythm(full, 0, 3).longest_active_min == 540 and rhythm(full, 0, 3).idle_periods == 0
    idle = sum(((1 << 6) - 1) << start for start in range(20, 520, 20))   # every 20 min, 6 min idle
    r = rhythm(full, idle, 3)
    assert r.idle_periods == 25 and r.longest_active_min == 540 - 506 and r.regularity == pytest.approx(1.0)
    ragged = sum(((1 << (5 + k % 7)) - 1) << start for k, start in enumerate(
        [15, 40, 52, 90, 130, 141, 200, 260, 275, 330, 390, 402, 470]))
    assert rhythm(full, ragged, 3).regularity < 0.5


def test_a_mouse_mover_day_has_no_idle_stretch() -> None:
    ctx = AgentContext("m1", "team-1")
    human = rollup(ctx, DAY, Habit(cases=45), random.Random(1)).features()
    mover = rollup(ctx, DAY, Habit(cases=4, mover=True), random.Random(1)).features()
    assert human["idle_periods"] >= 3 and 0.05 < human["idle_share"] < 0.4
    assert human["longest_active_min"] < 300
    assert mover["idle_periods"] == 0 and mover["idle_share"] == 0 and mover["idle_min"] == 0
    assert mover["longest_active_min"] >= 540                      # the whole shift in one run
    assert mover["cases_per_hour"] < human["cases_per_hour"] / 5


def test_input_on_a_timer_is_clockwork() -> None:
    ctx = AgentContext("m1", "team-1")
    human = rollup(ctx, DAY, Habit(), random.Random(2)).features()
    timer = rollup(ctx, DAY, Habit(cases=5, timer_min=12), random.Random(2)).features()
    assert human["input_regularity"] == 0                          # a handful of pauses: nothing to judge
    assert timer["idle_periods"] >= 12 and timer["input_regularity"] >= 0.8


def test_the_mouse_mover_is_found_with_low_side_reasons() -> None:
    fleet = Fleet.teams(teams=2, per_team=10, seed=4)
    target = "t1a06"
    usual = fleet.habits[target]
    day, rows, history = fleet.inputs(10, today={target: with_(usual, mover=True, cases=usual.cases // 10)})
    report = score_day(day, rows, history)
    finding = next(f for f in report.findings if f.agent_id == target)
    assert finding.rank <= 2, [(f.agent_id, [r.text for r in f.reasons]) for f in report.findings[:3]]
    presence = [r for r in finding.reasons if r.feature in PRESENCE]
    assert len(presence) >= 2, [r.text for r in finding.reasons]
    for r in presence:
        low = FEATURE_BY_NAME[r.feature].direction in ("down", "both") and r.value < r.peer_median
        high = r.feature == "longest_active_min" and r.value > r.peer_median
        assert low or high, r.text
        assert "team median" in r.text and "own 10-day" in r.text     # the same numbers as every reason
    assert any(r.peer_z <= -3 or r.self_z <= -3 for r in presence)   # found on the low side
    assert "one run without an idle period" in " ".join(r.text for r in finding.reasons) \
        or any(r.feature in ("idle_periods", "idle_share") for r in presence)
