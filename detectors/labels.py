"""Reviewer labels and how they tune the thresholds.

A reviewer marks a finding ``confirmed`` (a real problem), ``benign`` (a false alarm) or
``follow_up`` (needs a closer look). The collector keeps each label with a snapshot of the finding
it was given on: the score, the rules that fired and the rule features' values. Confirmed and
follow-up labels count as positives, benign ones as negatives.

:func:`tune` is deliberately simple, so a reviewer can predict what their labels will do:

1. Score thresholds (once there are at least ``min_labels`` labels and both kinds): the ``medium``
   threshold moves to the label score that maximises F2 (recall weighs twice precision: a missed
   leak costs more than a wasted minute); it moves at most ``max_step`` away from the configured
   value, and ``low`` / ``high`` keep their distance from it.
2. Rules (per rule, once it has at least ``min_rule_labels`` labelled hits): if none was positive,
   the rule drops one severity grade; otherwise, if at least ``min_rule_labels`` benign hits had
   values below every positive hit, the threshold rises to the smallest positive value (at most
   4 times the configured one). The benign hits behind either change must come from at least
   ``min_rule_agents`` agents and be given by at least ``min_rule_reviewers`` reviewers: one agent's
   recurring benign pattern is lowered for that agent only (:mod:`detectors.feedback`), never
   fleet-wide, and one reviewer alone cannot re-grade a rule for everyone. A rule is never switched
   off by labels, and the hard rules
   (:data:`detectors.feedback.HARD_RULES`: tamper, removable writes, remote access, screen capture,
   IDs to messaging) are neither re-graded nor re-thresholded: benign labels cannot quiet them.

Each label also keeps the finding's :class:`~detectors.feedback.Pattern`; :mod:`detectors.feedback`
uses it to lower one agent's recurring benign pattern and to raise findings similar to confirmed ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from detectors.errors import InvalidInput
from detectors.feedback import HARD_RULES, Pattern
from detectors.rules import SEVERITIES, RuleSet

VERDICTS = ("confirmed", "benign", "follow_up")
POSITIVE = frozenset({"confirmed", "follow_up"})


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds for the model-driven severity grades (scores lie in (0, 1])."""

    low: float = 0.5
    medium: float = 0.62
    high: float = 0.8

    def __post_init__(self) -> None:
        values = (self.low, self.medium, self.high)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values) \
                or not 0 < self.low <= self.medium <= self.high <= 1.0:
            raise InvalidInput("thresholds must satisfy 0 < low <= medium <= high <= 1")


@dataclass(frozen=True)
class Label:
    """One reviewer verdict on one finding, with a snapshot of that finding."""

    agent_id: str
    day: date
    verdict: str
    score: float
    rules: tuple[str, ...] = ()
    values: Mapping[str, float] = field(default_factory=dict)
    reviewer: str = ""
    note: str = ""
    pattern: Pattern | None = None

    def __post_init__(self) -> None:
        if self.pattern is not None and not isinstance(self.pattern, Pattern):
            raise InvalidInput("label pattern must be a Pattern")
        if self.verdict not in VERDICTS:
            raise InvalidInput(f"label verdict must be one of {', '.join(VERDICTS)}")
        if not isinstance(self.day, date):
            raise InvalidInput("label day must be a date")
        if isinstance(self.score, bool) or not isinstance(self.score, int | float) \
                or not math.isfinite(self.score):
            raise InvalidInput("label score must be a finite number")

    @property
    def positive(self) -> bool:
        return self.verdict in POSITIVE

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Label:
        try:
            pattern = data.get("pattern")
            return cls(str(data["agent_id"]), date.fromisoformat(str(data["date"])), str(data["verdict"]),
                       float(data["score"]), tuple(data.get("rules", ())), dict(data.get("values", {})),
                       str(data.get("reviewer", "")), str(data.get("note", "")),
                       None if pattern is None else Pattern.from_dict(pattern))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"label: missing or bad field ({exc})") from exc

    def to_dict(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "date": self.day.isoformat(), "verdict": self.verdict,
                "score": self.score, "rules": list(self.rules), "values": dict(self.values),
                "reviewer": self.reviewer, "note": self.note,
                "pattern": None if self.pattern is None else self.pattern.to_dict()}


def best_threshold(scored: list[tuple[float, bool]], beta: float = 2.0) -> float | None:
    """The score threshold (flag when score >= t) with the best F-beta on labelled scores."""
    positives = sum(1 for _, p in scored if p)
    if positives == 0 or positives == len(scored):
        return None
    best, best_t = -1.0, None
    for t in sorted({s for s, _ in scored}):
        tp = sum(1 for s, p in scored if p and s >= t)
        fp = sum(1 for s, p in scored if not p and s >= t)
        fn = positives - tp
        f = (1 + beta**2) * tp / max((1 + beta**2) * tp + beta**2 * fn + fp, 1)
        if f > best:
            best, best_t = f, t
    return best_t


def _tune_scores(labels: list[Label], base: Thresholds, min_labels: int, max_step: float) -> Thresholds:
    if len(labels) < min_labels:
        return base
    t = best_threshold([(lab.score, lab.positive) for lab in labels])
    if t is None:
        return base
    medium = min(max(t, base.medium - max_step), base.medium + max_step)
    low = max(1e-3, medium - (base.medium - base.low))
    high = min(1.0, medium + (base.high - base.medium))
    return Thresholds(low, max(low, medium), max(medium, high))


def _enough(benign: list[Label], min_agents: int, min_reviewers: int) -> bool:
    """Whether benign labels come from enough agents and enough reviewers to change a rule fleet-wide."""
    agents, reviewers = {lab.agent_id for lab in benign}, {lab.reviewer for lab in benign}
    return len(agents) >= min_agents and len(reviewers) >= min_reviewers


def _tune_rules(labels: list[Label], rules: RuleSet, min_rule_labels: int, min_rule_agents: int,
                min_rule_reviewers: int) -> RuleSet:
    overrides: dict[str, dict[str, Any]] = {}
    for rule in rules.rules:
        if rule.name in HARD_RULES:
            continue
        hits = [lab for lab in labels if rule.name in lab.rules]
        if len(hits) < min_rule_labels \
                or not _enough([lab for lab in hits if not lab.positive], min_rule_agents, min_rule_reviewers):
            continue
        positives = [lab for lab in hits if lab.positive]
        if not positives:
            grade = SEVERITIES.index(rule.severity)
            if grade > 0:
                overrides[rule.name] = {"severity": SEVERITIES[grade - 1]}
            continue
        pos_values = [float(lab.values[rule.feature]) for lab in positives if rule.feature in lab.values]
        if len(pos_values) != len(positives):
            continue
        floor = min(pos_values)
        below = [lab for lab in hits
                 if not lab.positive and float(lab.values.get(rule.feature, floor)) < floor]
        if len(below) >= min_rule_labels and _enough(below, min_rule_agents, min_rule_reviewers) \
                and floor > rule.threshold:
            overrides[rule.name] = {"threshold": min(floor, 4 * rule.threshold)}
    return rules.with_overrides(overrides)


def tune(labels: Iterable[Label], thresholds: Thresholds, rules: RuleSet, *, min_labels: int = 10,
         min_rule_labels: int = 5, max_step: float = 0.15, min_rule_agents: int = 3,
         min_rule_reviewers: int = 2) -> tuple[Thresholds, RuleSet]:
    """New thresholds and rules from reviewer labels (see the module docstring for the method)."""
    items = list(labels)
    for lab in items:
        if not isinstance(lab, Label):
            raise InvalidInput("labels must be Label objects")
    return (_tune_scores(items, thresholds, min_labels, max_step),
            _tune_rules(items, rules, min_rule_labels, min_rule_agents, min_rule_reviewers))

