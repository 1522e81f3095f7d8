"""Reviewer labels as feedback on patterns: benign lowers one agent's recurring pattern, confirmed raises
similar findings across the fleet. Every change is explained in the finding.

A finding's *pattern* (:class:`Pattern`) is what the finding is about: the rules it broke and the
features that deviate most from its peers or its own past (robust z of at least ``min_z``), each with
its direction (``pages_without_case+``, ``cases_per_hour-``), at most ``max_items`` features besides
the rules' own. It is computed when a day is scored, shown with the finding, and stored with a label
at label time, so that later days are matched against the pattern the reviewer actually judged. Two
patterns are *similar* when their items overlap by at least ``similarity`` (Jaccard: shared items over
all items, each rule and each directed feature one item).

- **Benign, per agent.** A later finding of the same agent, similar to patterns that agent had marked
  benign on at least ``min_benign`` earlier days (within ``window_days``), has its score multiplied by
  ``1 - benign_step`` for each such label, at most ``max_steps`` times (0.9, 0.81, 0.73). It says so:
  "lowered: marked benign 3 times by sec.li". Other agents with the same pattern are not touched.
- **Confirmed, fleet-wide.** A later finding of any agent similar to a confirmed one has its distance to
  the top score shrunk by ``confirmed_step`` per matching confirmed label, at most ``max_steps`` times:
  ``1 - (1 - score) * (1 - confirmed_step) ** n``. It says "raised: similar to 1 confirmed finding
  (latest 2026-11-20, by sec.li)", naming no other agent (a manager may not be allowed to see it).
- **Follow-up** labels change no score here (they count as positives when :mod:`detectors.labels` tunes
  the thresholds).

What benign labels can never do (so a reviewer, or an insider among the reviewers, cannot make an agent
invisible):

1. Lower a finding that breaks a hard rule (:data:`HARD_RULES`: tamper signals, removable writes, remote
   access, screen capture, ID numbers taken to messaging). It stays where it was and says
   "not lowered: removable_write is a hard rule". :func:`detectors.labels.tune` does not re-grade or
   re-threshold those rules either.
2. Lower a finding that breaks a rule none of the benign-labelled findings broke: a new rule is a new
   pattern.
3. Lower a finding that is also similar to a confirmed one.
4. Lower by more than ``max_steps`` steps (27 % at the defaults), and hide a finding: a lowered finding
   stays in the report, at least at low severity (:func:`detectors.scoring.score_day`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.base import Matrix, Vector
from detectors.errors import ConfigError, InvalidInput
from detectors.features import FEATURE_BY_NAME, FEATURE_NAMES
from detectors.rules import RuleSet
from detectors.tiers import FIRST

log = logging.getLogger(__name__)

# Every first-tier rule (data leaving the seat, the PC taken over, tamper: detectors.tiers.FIRST) plus the
# agent going away mid-shift, which ranks in the second tier but is never lowered by labels either.
HARD_RULES = FIRST | frozenset({"agent_silenced", "stopped_in_shift"})
SIGNS = ("+", "-")


@dataclass(frozen=True)
class Pattern:
    """The rules a finding broke and its directed top deviations (``feature+`` / ``feature-``)."""

    rules: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for item in self.features:
            if not isinstance(item, str) or item[-1:] not in SIGNS or item[:-1] not in FEATURE_BY_NAME:
                raise InvalidInput(f"pattern feature {item!r} must be a feature name and + or -")
        if not all(isinstance(r, str) and r for r in self.rules):
            raise InvalidInput("pattern rules must be rule names")

    @cached_property
    def items(self) -> frozenset[str]:
        return frozenset(f"rule:{r}" for r in self.rules) | self.features

    @property
    def key(self) -> str:
        """One canonical text for the pattern (what storage keeps in ``labels.pattern``)."""
        return " ".join(sorted(self.items))

    def similarity(self, other: Pattern) -> float:
        mine, theirs = self.items, other.items
        union = mine | theirs
        return len(mine & theirs) / len(union) if union else 0.0

    def to_dict(self) -> dict[str, list[str]]:
        return {"rules": sorted(self.rules), "features": sorted(self.features)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pattern:
        try:
            return cls(frozenset(str(r) for r in data.get("rules", ())),
                       frozenset(str(f) for f in data.get("features", ())))
        except (AttributeError, TypeError) as exc:
            raise InvalidInput(f"pattern: bad field ({exc})") from exc

    @classmethod
    def from_finding(cls, finding: Mapping[str, Any]) -> Pattern:
        """The pattern a report's finding carries; for reports stored before patterns existed, the one
        its rules and reasons imply."""
        if isinstance(finding.get("pattern"), Mapping):
            return cls.from_dict(finding["pattern"])
        rules = frozenset(str(r) for r in finding.get("rules", ()))
        known = RuleSet().by_name
        feats = {f"{known[r].feature}+" for r in rules if r in known}
        for r in finding.get("reason_details", ()):
            if isinstance(r, Mapping) and r.get("feature") in FEATURE_BY_NAME:
                z = max((float(r.get("peer_z") or 0.0), float(r.get("self_z") or 0.0)), key=abs)
                if f"{r['feature']}+" not in feats:
                    feats.add(f"{r['feature']}{'-' if z < 0 else '+'}")
        return cls(rules, frozenset(feats))


class PatternBuilder:
    """Patterns of one day's rows as one boolean matrix of items (rules fired, directed features), built
    with a few array operations; :meth:`of` turns a row into a :class:`Pattern`."""

    def __init__(self, F: Matrix, peer_z: Matrix, self_z: Matrix, has_self: Any, rules: RuleSet,
                 min_z: float = 3.0, max_items: int = 3) -> None:
        own = np.where(np.asarray(has_self, dtype=bool)[:, None], self_z, 0.0)
        z = np.where(np.abs(own) > np.abs(peer_z), own, peer_z)
        n, nf = z.shape
        active = [r for r in rules.rules if r.enabled]
        cols = np.array([FEATURE_NAMES.index(r.feature) for r in active], dtype=np.int_)
        fired = F[:, cols] >= np.array([r.threshold for r in active]) if active else np.zeros((n, 0), bool)
        ruled = np.zeros((n, nf), dtype=bool)                    # features of the rules that fired
        for k, col in enumerate(cols):
            ruled[:, col] |= fired[:, k]
        strength = np.where(ruled | (np.abs(z) < min_z), 0.0, np.abs(z))
        top = np.argsort(-strength, axis=1, kind="stable")[:, :max_items]
        picked = np.zeros((n, nf), dtype=bool)
        np.put_along_axis(picked, top, np.take_along_axis(strength, top, axis=1) > 0, axis=1)
        up = ruled | (picked & (z >= 0))                          # a rule fires on a high value
        down = picked & (z < 0)
        self.vocabulary = ([f"rule:{r.name}" for r in active] + [f"{f}+" for f in FEATURE_NAMES]
                           + [f"{f}-" for f in FEATURE_NAMES])
        self.column = {item: j for j, item in enumerate(self.vocabulary)}
        self.matrix = np.concatenate([fired, up, down], axis=1)
        self._cache: dict[int, Pattern] = {}

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def of(self, i: int) -> Pattern:
        if i not in self._cache:
            items = [self.vocabulary[j] for j in np.flatnonzero(self.matrix[i])]
            self._cache[i] = Pattern(frozenset(x[5:] for x in items if x.startswith("rule:")),
                                     frozenset(x for x in items if not x.startswith("rule:")))
        return self._cache[i]

    def encode(self, patterns: Sequence[Pattern]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Patterns as columns over this day's items, and each pattern's full item count (items this day
        cannot have still count in the union)."""
        out = np.zeros((len(self.vocabulary), len(patterns)), dtype=np.float32)
        for k, pattern in enumerate(patterns):
            for item in pattern.items:
                if item in self.column:
                    out[self.column[item], k] = 1.0
        return out, np.array([len(p.items) for p in patterns], dtype=np.float32)


@dataclass(frozen=True)
class Feedback:
    """How far labels reach (see the module docstring); validated when built."""

    similarity: float = 0.5
    min_benign: int = 2
    benign_step: float = 0.1
    confirmed_step: float = 0.25
    max_steps: int = 3
    window_days: int = 120

    def __post_init__(self) -> None:
        for name in ("similarity", "benign_step", "confirmed_step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise ConfigError(f"feedback {name!r} must be a number in (0, 1)")
        for name in ("min_benign", "max_steps", "window_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"feedback {name!r} must be a positive integer")


@dataclass(frozen=True)
class Note:
    """One explained label effect on a finding."""

    kind: str                      # "lowered", "raised", "not_lowered" or "benign_once"
    count: int                     # labels behind it
    reviewers: tuple[str, ...]
    factor: float                  # what the score was multiplied by (1.0: unchanged)
    text: str
    text_zh: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "reviewers": list(self.reviewers),
                "factor": round(self.factor, 4), "text": self.text, "text_zh": self.text_zh}


@dataclass
class Adjustment:
    """Scores after the labels, and per row the notes that explain the change."""

    score: Vector
    notes: dict[int, list[Note]] = field(default_factory=dict)


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _by(reviewers: Counter[str]) -> tuple[tuple[str, ...], str]:
    names = tuple(name for name, _ in reviewers.most_common() if name) or ("unknown",)
    return names, ", ".join(names)


def _benign_note(kind: str, n: int, reviewers: Counter[str], factor: float, hard: str = "") -> Note:
    names, by = _by(reviewers)
    what_en, what_zh = f"marked benign {_times(n)} by {by}", f"被 {by} 标记为误报 {n} 次"
    if kind == "lowered":
        return Note(kind, n, names, factor, f"lowered: {what_en}", f"已降低：{what_zh}")
    if kind == "benign_once":
        return Note(kind, n, names, 1.0, f"not lowered yet: {what_en} (a pattern counts from the second time)",
                    f"暂未降低：{what_zh}（同一模式第二次起生效）")
    if hard:
        return Note(kind, n, names, 1.0, f"not lowered: {hard} is a hard rule ({what_en})",
                    f"未降低：{hard} 为硬性规则（{what_zh}）")
    return Note(kind, n, names, 1.0, f"not lowered: also similar to a confirmed finding ({what_en})",
                f"未降低：与已确认的发现相似（{what_zh}）")


def _raised_note(matched: list[Any], factor: float) -> Note:
    reviewers = Counter(str(lab.reviewer) for lab in matched)
    names, by = _by(reviewers)
    latest = max(lab.day for lab in matched).isoformat()
    n = len(matched)
    plural = "finding" if n == 1 else "findings"
    return Note("raised", n, names, factor, f"raised: similar to {n} confirmed {plural} (latest {latest}, by {by})",
                f"已提高：与 {n} 个已确认的发现相似（最近 {latest}，由 {by} 确认）")


class _Confirmed:
    """Confirmed labels grouped by pattern; every row is compared with every distinct pattern at once
    (item overlaps as one matrix product, in blocks of rows)."""

    BLOCK = 4096

    def __init__(self, labels: Sequence[Any], patterns: PatternBuilder, threshold: float) -> None:
        grouped: dict[Pattern, list[Any]] = {}
        for lab in labels:
            grouped.setdefault(lab.pattern, []).append(lab)
        self.groups = list(grouped.values())
        self.matched: dict[int, list[Any]] = {}
        if not self.groups:
            return
        columns, sizes = patterns.encode(list(grouped))
        rows = patterns.matrix
        for first in range(0, rows.shape[0], self.BLOCK):
            block = rows[first:first + self.BLOCK].astype(np.float32)
            shared = block @ columns
            union = block.sum(axis=1, keepdims=True) + sizes[None, :] - shared
            similar = (shared > 0) & (shared >= threshold * union)
            for i, k in zip(*np.nonzero(similar), strict=True):
                self.matched.setdefault(first + int(i), []).extend(self.groups[int(k)])


def apply_labels(day: date, agent_ids: Sequence[str], score: Vector, patterns: PatternBuilder,
                 labels: Iterable[Any], policy: Feedback | None = None) -> Adjustment:
    """Scores of one day's rows after the reviewer labels of earlier days (see the module docstring).
    ``labels`` are :class:`detectors.labels.Label` objects; those without a pattern are ignored."""
    policy = policy or Feedback()
    if len(agent_ids) != len(score) or len(patterns) != len(score):
        raise InvalidInput("agent ids, scores and patterns must be of one length")
    first = day - timedelta(days=policy.window_days)
    usable = [lab for lab in labels if first <= lab.day < day and getattr(lab, "pattern", None) is not None
              and lab.pattern.items]
    benign: dict[str, list[Any]] = {}
    for lab in usable:
        if lab.verdict == "benign":
            benign.setdefault(lab.agent_id, []).append(lab)
    confirmed = _Confirmed([lab for lab in usable if lab.verdict == "confirmed"], patterns, policy.similarity)
    out = Adjustment(np.array(score, dtype=np.float64, copy=True))
    rows = sorted(set(confirmed.matched) | {i for i, a in enumerate(agent_ids) if a in benign})
    for i in rows:
        pattern = patterns.of(i)
        if not pattern.items:
            continue
        notes: list[Note] = []
        matched = confirmed.matched.get(i, [])
        if matched:
            n = min(len(matched), policy.max_steps)
            before = float(out.score[i])
            out.score[i] = 1.0 - (1.0 - before) * (1.0 - policy.confirmed_step) ** n
            notes.append(_raised_note(matched, float(out.score[i]) / max(before, 1e-9)))
        own = [lab for lab in benign.get(agent_ids[i], ())
               if pattern.rules <= lab.pattern.rules and pattern.similarity(lab.pattern) >= policy.similarity]
        if own:
            notes.append(_lower(out, i, pattern, own, bool(matched), policy))
        if notes:
            out.notes[i] = notes
    return out


def _lower(out: Adjustment, i: int, pattern: Pattern, own: list[Any], confirmed: bool, policy: Feedback) -> Note:
    n = len({lab.day for lab in own})
    reviewers = Counter(str(lab.reviewer) for lab in own)
    hard = sorted(pattern.rules & HARD_RULES)
    if hard:
        log.info("benign labels not applied to row %d: hard rule %s", i, hard[0])
        return _benign_note("not_lowered", n, reviewers, 1.0, hard[0])
    if confirmed:
        return _benign_note("not_lowered", n, reviewers, 1.0)
    if n < policy.min_benign:
        return _benign_note("benign_once", n, reviewers, 1.0)
    factor = (1.0 - policy.benign_step) ** min(n, policy.max_steps)
    out.score[i] *= factor
    return _benign_note("lowered", n, reviewers, factor)
