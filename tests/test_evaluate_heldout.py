"""Held-out evaluation (detectors/heldout.py): each scenario is judged by a configuration chosen
without it, and the floors below are on those held-out figures, never on the tuned ones.

The floors are what the detectors achieved when this test was written, less a margin; raising the
figures is the detectors' job, not this test's (see README, "Benchmarks", for the full table).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from detectors.heldout import Fleet, Grid, HeldOut, Point, Ranked, Seen, fleet_from_folder, held_out, rank_fleets
from detectors.scoring import ScoringConfig

pytestmark = pytest.mark.slow

END = date(2025, 3, 14)
SEEDS = (7, 8)  # two fleets, nine scenarios each: every scenario, loud and quiet, once
AGENTS, DAYS, SCORED = 20, 8, 4
GRID = Grid(rules_weight=(1.0, 3.0), self_weight=(1.0,), combine=("fisher",), rule_scale=(0.6, 1.0))


def _fleet(seed: int, names: list[str], out: Path) -> Fleet:
    from simulator import simulate
    from simulator.fleet import evaluation_mix
    from simulator.roster import build_roster
    from simulator.schedule import Schedule

    start = END - timedelta(days=DAYS - 1)
    members = build_roster(seed, AGENTS, start, END)
    specs = evaluation_mix(seed, members, Schedule(seed, members, start, END), names, recent=SCORED)
    simulate(out, agents=AGENTS, days=DAYS, seed=seed, end=END, scenarios=specs)
    return fleet_from_folder(out, f"seed {seed}", SCORED)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> HeldOut:
    from simulator import SCENARIOS

    names = sorted(SCENARIOS)
    half = len(names) // 2
    fleets = [_fleet(seed, names[n * half:(n + 1) * half] if n == 0 else names[half:], tmp_path_factory.mktemp("f"))
              for n, seed in enumerate(SEEDS)]
    return held_out(rank_fleets(fleets, GRID.points()))


def test_every_scenario_is_held_out_once(result: HeldOut) -> None:
    from simulator import SCENARIOS

    assert [row.scenario for row in result.rows] == sorted(SCENARIOS)
    assert all(len(row.figures.ranks) == 1 for row in result.rows)
    assert len(result.ranked.points) == 4 and result.ranked.decoys[0]


def test_each_choice_was_made_without_its_scenario(result: HeldOut) -> None:
    from detectors.heldout import select

    names = result.ranked.scenarios()
    for row in result.rows:
        assert row.point == select(result.ranked, [n for n in names if n != row.scenario])


def test_held_out_floors(result: HeldOut) -> None:
    pooled = result.pooled()
    table = result.table()
    assert pooled.recall(10) >= 0.75, table
    assert pooled.recall(5) >= 0.65, table
    assert pooled.recall() >= 0.55, table
    assert pooled.best_decoy() is not None, table
    assert pooled.decoys_in(5) <= 0.4, table
    loud = [row for row in result.rows if row.scenario in ("bulk_id_copy", "usb_export", "remote_access",
                                                           "screen_recorder", "killed_mid_shift")]
    assert all(row.figures.recall(10) == 1.0 for row in loud), table


def _seen(what: str, rank: int, fleet: str = "f", agent: str = "a", k: int = 1) -> Seen:
    return Seen(fleet, agent, END, what, rank, k)


def test_points_that_only_fit_their_own_scenario_do_not_count() -> None:
    points = [Point("p0", ScoringConfig()), Point("p1", ScoringConfig(combine="max"))]
    ranked = Ranked(points,
                    insiders=[[_seen("a", 1), _seen("b", 30, agent="b"), _seen("c", 30, agent="c")],
                              [_seen("a", 30), _seen("b", 2, agent="b"), _seen("c", 3, agent="c")]],
                    decoys=[[_seen("lead", 40, agent="d")], [_seen("lead", 40, agent="d")]])
    result = held_out(ranked)
    rows = {row.scenario: row for row in result.rows}
    assert rows["a"].point == 1 and rows["a"].figures.ranks == [30]  # p0 finds a, but b and c chose p1
    assert rows["b"].point == 0 and rows["b"].figures.ranks == [30]  # without b, p0 (a at 1) wins
    assert rows["c"].point == 0 and rows["c"].figures.ranks == [30]
    assert result.pooled().recall(10) == 0.0  # held out, nothing is found ...
    assert result.tuned == 1 and result.tuned_figures().recall(10) == pytest.approx(2 / 3)  # ... tuned, 2 of 3


def test_decoys_in_the_top_ten_weigh_against_a_point() -> None:
    points = [Point("p0", ScoringConfig()), Point("p1", ScoringConfig(combine="max"))]
    ranked = Ranked(points,
                    insiders=[[_seen("a", 3), _seen("b", 4, agent="b")], [_seen("a", 4), _seen("b", 5, agent="b")]],
                    decoys=[[_seen("lead", 1, agent="d"), _seen("hire", 2, agent="e")],
                            [_seen("lead", 11, agent="d"), _seen("hire", 12, agent="e")]])
    result = held_out(ranked)
    assert all(row.point == 1 for row in result.rows)
    assert result.pooled().best_decoy() == (11, "lead")
    assert "all, held out" in result.table() and "lead" in result.table()
