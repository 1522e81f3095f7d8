"""Hard-breach rules: thresholds, overrides, grades and the rules scorer."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.errors import ConfigError
from detectors.features import FEATURE_BY_NAME, FEATURE_NAMES
from detectors.rules import RULES, SEVERITIES, Rule, RuleSet


def zero() -> dict[str, float]:
    return dict.fromkeys(FEATURE_NAMES, 0.0)


def row(features: dict[str, float]) -> np.ndarray:
    return np.array([[features[n] for n in FEATURE_NAMES]])


def test_rule_table_is_well_formed() -> None:
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names)
    for r in RULES:
        assert r.feature in FEATURE_BY_NAME and r.severity in SEVERITIES and r.help_en and r.help_zh
    expected = {"id_to_messaging", "remote_access", "removable_write", "agent_silenced", "screen_capture"}
    assert expected <= set(names)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_each_rule_fires_at_its_threshold_and_not_below(rule: Rule) -> None:
    rules = RuleSet()
    f = zero()
    f[rule.feature] = rule.threshold * 0.99 if rule.threshold > 1 else 0.0
    assert rule.name not in [h.rule.name for h in rules.evaluate(f)]
    f[rule.feature] = rule.threshold
    hits = [h for h in rules.evaluate(f) if h.rule.name == rule.name]
    assert hits and hits[0].value == rule.threshold
    assert rules.grade(row(f))[0] >= SEVERITIES.index(rule.severity)
    assert rules.score(row(f))[0] > 0


def test_hits_come_most_severe_first() -> None:
    f = zero()
    f.update(drive_mounts=1, ids_to_messaging=2, removable_writes=3)
    assert [h.rule.name for h in RuleSet().evaluate(f)] == ["removable_write", "id_to_messaging", "drive_mount"]
    f["ids_to_messaging"] = 5
    assert [h.rule.name for h in RuleSet().evaluate(f)][0] == "ids_to_messaging"


def test_score_grows_with_severity_and_excess() -> None:
    rules = RuleSet()
    base = zero()
    low, high, higher = dict(base), dict(base), dict(base)
    low["drive_mounts"] = 1
    high["removable_writes"] = 1
    higher["removable_writes"] = 20
    s = [rules.score(row(x))[0] for x in (base, low, high, higher)]
    assert s[0] == 0 < s[1] < s[2] < s[3]


def test_overrides() -> None:
    rules = RuleSet().with_overrides({"bulk_id_copy": {"threshold": 50, "severity": "critical"},
                                      "drive_mount": {"enabled": False}})
    f = zero()
    f.update(copied_ids=30, drive_mounts=2)
    assert rules.evaluate(f) == []
    f["copied_ids"] = 50
    assert [(h.rule.name, h.rule.severity) for h in rules.evaluate(f)] == [("bulk_id_copy", "critical")]
    assert rules.to_dict()["drive_mount"]["enabled"] is False
    assert RuleSet().with_overrides(None).to_dict() == RuleSet().to_dict()


@pytest.mark.parametrize("bad", [
    {"no_such_rule": {"threshold": 1}},
    {"bulk_id_copy": {"threshold": 0}},
    {"bulk_id_copy": {"threshold": "ten"}},
    {"bulk_id_copy": {"severity": "apocalyptic"}},
    {"bulk_id_copy": {"colour": "red"}},
    {"bulk_id_copy": 5},
])
def test_bad_overrides_are_refused(bad: dict) -> None:
    with pytest.raises(ConfigError):
        RuleSet().with_overrides(bad)


def test_a_rule_must_name_a_known_feature() -> None:
    with pytest.raises(ConfigError):
        Rule("x", "no_such_feature", 1, "low", "x", "x")
