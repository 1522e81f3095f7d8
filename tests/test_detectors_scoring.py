"""score_day end to end on seeded synthetic fleets: ranking, cold start, roles, severity, JSON, config."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from detectors.context import AgentContext
from detectors.ensemble import Ensemble, combine, tail_pvalues
from detectors.errors import ConfigError, InvalidInput
from detectors.features import FEATURE_NAMES
from detectors.scoring import AgentDayInput, ScoringConfig, score_day, settings_markdown
from detectors.synthetic import fleet_day
from detectors.tiers import TIERS

DAY = date(2024, 5, 6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_agents_lead_the_ranking(seed: int) -> None:
    sd = fleet_day(seed, teams=6, per_team=15, anomalies=8)
    report = score_day(sd.day, sd.today, sd.history)
    top = [a for a, _ in report.ranking[:10]]
    assert sum(a in sd.planted for a in top) >= 7
    assert report.agents_scored == 90 and len(report.ranking) == 90
    assert [f.rank for f in report.findings] == sorted(f.rank for f in report.findings)
    scores = [s for _, s in report.ranking]
    assert all(0 < s <= 1 for s in scores[:10])
    keys = [(TIERS.index(f.tier), f.chance) for f in report.findings]
    assert keys == sorted(keys)                             # tier first, then the calibrated score


def test_cold_start_agents_are_scored_against_peers_only() -> None:
    sd = fleet_day(4, teams=4, per_team=12, anomalies=0)
    new = sd.today[5]
    f = dict(new.features)
    f["pages_without_case"] = 40
    sd.today[5] = AgentDayInput(new.ctx, f)
    sd.history[new.ctx.agent_id] = []
    report = score_day(sd.day, sd.today, sd.history)
    finding = next(x for x in report.findings if x.agent_id == new.ctx.agent_id)
    assert finding.rank <= 3
    assert finding.members["self_ecod"] is None and finding.members["peer_ecod"] is not None
    assert "no own history yet" in finding.reasons[0].text


def test_leads_are_compared_with_leads() -> None:
    sd = fleet_day(5, teams=6, per_team=12, anomalies=0)
    report = score_day(sd.day, sd.today, sd.history)
    leads = [r.ctx.agent_id for r in sd.today if r.ctx.role == "lead"]
    ranks = {a: k for k, (a, _) in enumerate(report.ranking, start=1)}
    assert sum(ranks[a] for a in leads) / len(leads) > len(ranks) / 4     # lead-typical is not unusual
    lead = next(x for x in sd.today if x.ctx.role == "lead")
    f = dict(lead.features)
    f["copied_ids"] = 30
    sd.today[sd.today.index(lead)] = AgentDayInput(lead.ctx, f)
    finding = score_day(sd.day, sd.today, sd.history).findings[0]
    assert finding.agent_id == lead.ctx.agent_id and finding.role == "lead"
    assert "all team leads' median" in finding.reasons[0].text


def test_severity_is_the_worse_of_rules_and_score() -> None:
    sd = fleet_day(6, teams=4, per_team=12, anomalies=0)
    row = sd.today[3]
    f = dict(row.features)
    f["ids_to_messaging"] = 1
    sd.today[3] = AgentDayInput(row.ctx, f)
    report = score_day(sd.day, sd.today, sd.history)
    finding = next(x for x in report.findings if x.agent_id == row.ctx.agent_id)
    assert finding.severity == "medium" and finding.rules == ["id_to_messaging"]
    f["ids_to_messaging"] = 6
    sd.today[3] = AgentDayInput(row.ctx, f)
    finding = next(x for x in score_day(sd.day, sd.today, sd.history).findings if x.agent_id == row.ctx.agent_id)
    assert finding.severity == "critical"
    assert all(x.severity in ("low", "medium", "high", "critical") for x in report.findings)


def test_json_shape_and_evidence_links() -> None:
    sd = fleet_day(7, teams=3, per_team=10, anomalies=3)
    first = sd.today[4]
    evidence = [{"ts": "2024-05-06T10:00:00+08:00", "kind": "usb_write", "seq": 812, "what": "wrote a.xlsx"},
                {"ts": "2024-05-06T09:00:00+08:00", "kind": "screenshot", "seq": 10, "what": "policy screenshot"}]
    f = dict(first.features)
    f["removable_writes"] = 2
    sd.today[4] = AgentDayInput(first.ctx, f, evidence, "a" * 144)
    data = json.loads(score_day(sd.day, sd.today, sd.history).to_json())
    assert data["date"] == "2024-05-06"
    for k, item in enumerate(data["findings"], start=1):
        assert {"agent_id", "rank", "score", "severity", "reasons"} <= set(item)
        assert all(isinstance(r, str) for r in item["reasons"])
        if k > 1:
            assert item["rank"] > data["findings"][k - 2]["rank"]
    item = next(x for x in data["findings"] if x["agent_id"] == first.ctx.agent_id)
    assert item["evidence"][0]["link"] == f"/agents/{first.ctx.agent_id}/timeline?date=2024-05-06#seq-812"
    assert [e["kind"] for e in item["evidence"]] == ["usb_write"]
    assert set(item["features"]) == set(FEATURE_NAMES)
    assert data["teams"] and {"team", "utilisation", "aht_s", "cases_per_hour", "active_min"} <= set(data["teams"][0])


def test_team_figures_add_up() -> None:
    rows = []
    for k in range(6):
        f = dict.fromkeys(FEATURE_NAMES, 0.0)
        f.update(active_min=300 + 60 * (k % 2), cases_closed=30, handle_mean_s=600, utilisation=0.5)
        rows.append(AgentDayInput(AgentContext(f"x{k}", "t", "lead" if k == 0 else "agent"), f))
    team = score_day(DAY, rows, {}).teams[0]
    assert (team.agents, team.leads) == (5, 1)
    assert team.active_min == 300 * 2 + 360 * 3
    assert team.cases_per_hour == pytest.approx(150 / (team.active_min / 60))
    assert team.aht_s == pytest.approx(600) and team.utilisation == pytest.approx(0.5)


def test_history_is_trimmed_and_labels_are_shown() -> None:
    from detectors.labels import Label

    sd = fleet_day(8, teams=3, per_team=10, anomalies=2)
    long = {a: rows * 3 for a, rows in sd.history.items()}          # 90 days: only the last 30 count
    a = score_day(sd.day, sd.today, long)
    b = score_day(sd.day, sd.today, {k: v[-30:] for k, v in long.items()})
    assert a.ranking == b.ranking
    target = a.findings[0].agent_id
    labelled = score_day(sd.day, sd.today, long, labels=[Label(target, sd.day, "confirmed", 0.9)])
    assert labelled.findings[0].label == "confirmed"


def test_a_tiny_day_still_ranks_rule_breaches() -> None:
    sd = fleet_day(12, teams=1, per_team=3, anomalies=0)
    f = dict(sd.today[1].features)
    f["remote_access_starts"] = 1
    sd.today[1] = AgentDayInput(sd.today[1].ctx, f)
    report = score_day(sd.day, sd.today, sd.history)
    assert report.ranking[0][0] == sd.today[1].ctx.agent_id
    assert report.findings[0].severity == "high" and report.findings[0].members["peer_ecod"] is None


def test_bad_input() -> None:
    sd = fleet_day(9, teams=2, per_team=6, anomalies=0)
    with pytest.raises(InvalidInput):
        score_day(sd.day, sd.today + [sd.today[0]], sd.history)
    bad = dict(sd.today[0].features)
    bad["copies"] = float("nan")
    with pytest.raises(InvalidInput):
        score_day(sd.day, [replace(sd.today[0], features=bad)] + sd.today[1:], sd.history)
    with pytest.raises(InvalidInput):
        score_day("2024-05-06", sd.today, sd.history)  # type: ignore[arg-type]
    empty = score_day(sd.day, [], {})
    assert empty.findings == [] and json.loads(empty.to_json())["findings"] == []


def test_config_table() -> None:
    cfg = ScoringConfig.from_dict({"min_peers": 8, "members": ["peer_ecod", "rules"], "combine": "max",
                                   "rules": {"bulk_id_copy": {"threshold": 25}}, "weights": {"rules": 2}})
    assert cfg.min_peers == 8 and cfg.members == ("peer_ecod", "rules")
    assert cfg.rule_set().by_name["bulk_id_copy"].threshold == 25
    sd = fleet_day(10, teams=2, per_team=8, anomalies=2)
    assert list(score_day(sd.day, sd.today, sd.history, config=cfg).members) == ["peer_ecod", "rules"]
    for bad in ({"min_peers": 0}, {"combine": "vote"}, {"nope": 1}, {"threshold_low": 0.9},
                {"rules": {"nope": {"threshold": 1}}}, {"min_fit": "many"}, {"tune_from_labels": "maybe"},
                {"members": ["nope"]}, {"weights": {"rules": -1}}, {"weights": {"self_ecod": 1}, "members": ["rules"]},
                {"threshold_high": 1.5}, {"min_fit": 2.5}):
        with pytest.raises(ConfigError):
            ScoringConfig.from_dict(bad).rule_set()
    with pytest.raises(ConfigError, match="unknown detector.*nope"):   # refused when built, not when scored
        ScoringConfig(members=("nope",))
    doc = settings_markdown()
    for name in ScoringConfig.__dataclass_fields__:
        assert f"`{name}`" in doc


def test_tail_pvalues_and_combinations() -> None:
    p = tail_pvalues(np.array([0.0, 0.0, 0.0, 5.0, np.nan]))
    assert np.isnan(p[4]) and p[3] == pytest.approx(1 / 5) and p[0] == pytest.approx(4 / 5)
    pv = np.array([[0.1, 0.5, np.nan], [0.1, 0.9, 0.5]])
    fisher = combine(pv, "fisher")
    assert fisher[0] > fisher[1] > 0
    assert combine(pv, "max")[0] > combine(pv, "max")[1]
    assert combine(pv, "mean_rank")[0] == pytest.approx(0.9)
    with pytest.raises(ConfigError):
        combine(pv, "vote")
    with pytest.raises(ConfigError):
        Ensemble(("peer_ecod",), weights={"rules": 1.0})
