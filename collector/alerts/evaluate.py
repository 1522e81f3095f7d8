"""Rules at ingest: the daily report's own rule definitions, evaluated on the updated rollup of each
agent-day a batch touched (one source of truth: :mod:`detectors.rules`, tuned by reviewer labels
exactly as :func:`detectors.scoring.score_day` tunes them).

The rollup's whole-day features are read with ``now`` so that the rest of today does not count yet.
Rules on ``silent_shift_min`` and on the stop features are left to :mod:`collector.alerts.silence`,
which sees a silence or a stop while it happens instead of when the agent comes back. When several
rules on one feature fire together (``id_to_messaging`` and ``ids_to_messaging``), the most severe
raises the alert and the others are recorded as covered by it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime, tzinfo
from typing import Any, Protocol, TypeVar

from collector.alerts.clock import Clock
from collector.alerts.model import Alert, Reason
from detectors.context import AgentContext
from detectors.labels import Label
from detectors.reasons import PHRASES, english, fmt
from detectors.rollup import DayRollup
from detectors.rules import RuleHit, RuleSet
from detectors.scoring import ScoringConfig, tuned_for_day

log = logging.getLogger(__name__)
T = TypeVar("T")
SILENCE_FEATURE = "silent_shift_min"
CHECKER_FEATURES = frozenset({SILENCE_FEATURE, "stops_in_shift", "stopped_shift_min"})  # see the docstring
EVIDENCE_KINDS: dict[str, tuple[str, ...]] = {
    "ids_to_messaging": ("copy_to_offlist",),
    "copies_to_offlist": ("copy_to_offlist",),
    "copied_ids": ("id_copy",),
    "copied_cards": ("id_copy",),
    "removable_writes": ("usb_write",),
    "drive_mounts": ("drive_mount",),
    "remote_access_starts": ("remote_access",),
    "screen_capture_starts": ("screen_capture",),
    "pages_without_case": ("page_without_case",),
    "offlist_site_min": ("offlist_site",),
    "outside_shift_min": ("outside_shift",),
    "night_min": ("outside_shift",),
    "outside_shift_lookups": ("page_without_case", "id_copy", "usb_write", "outside_shift"),
    "silent_shift_min": ("silence",),
    "stops_in_shift": ("stop",),
    "stopped_shift_min": ("stop",),
    "rollup_bound_hits": ("rollup_bound",),
    "returns_in_shift": ("return",),
    "spool_dropped": ("spool_drop",),
}
MAX_EVIDENCE = 3


def reason(feature: str, value: float, threshold: float) -> Reason:
    """A rule reason in the daily report's words: the number, then the rule's threshold."""
    en, zh = PHRASES[feature]
    return Reason(feature, round(value, 3), float(threshold),
                  f"{english(en, feature, value)}; rule threshold {fmt(feature, threshold)}",
                  f"{zh.format(v=fmt(feature, value, 'zh'))}；规则阈值 {fmt(feature, threshold, 'zh')}")


Labels = Callable[[], Sequence[Label]]  # every reviewer label so far (ReportService.labels)


class Contexts(Protocol):
    """Who an agent is and the policy in force (:class:`collector.rollups.RollupUpdater`)."""

    def context(self, agent_id: str, agent: dict[str, Any] | None = None) -> AgentContext: ...

    def live_context(self, agent_id: str, at: datetime | None = None) -> AgentContext: ...

    def evaluate(self, agent_id: str, day: str, use: Callable[[DayRollup], T]) -> T | None: ...


class RuleSource:
    """The report's rule set for a day (defaults, scoring overrides, label tuning), cached briefly."""

    def __init__(self, labels: Labels, scoring: ScoringConfig, clock: Clock, ttl_s: float = 60.0) -> None:
        self.labels = labels
        self.scoring = scoring
        self.clock = clock
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, RuleSet]] = {}

    def for_day(self, day: str) -> RuleSet:
        now = self.clock.time()
        with self._lock:
            hit = self._cache.get(day)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        _, rules = tuned_for_day(date.fromisoformat(day), list(self.labels()), self.scoring)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self.ttl_s}
            self._cache[day] = (now, rules)
        return rules


class RuleEvaluator:
    def __init__(self, contexts: Contexts, tz: tzinfo, clock: Clock, rules: RuleSource) -> None:
        self.contexts = contexts
        self.tz = tz
        self.clock = clock
        self.rules = rules

    def evaluate(self, agent_id: str, day: str, seqs: list[int]) -> list[Alert]:
        """Candidate alerts for one agent-day; ``seqs`` are the newly stored events of that day.

        The rollup is the newest stored one: the copy the rollup updater kept when no other process
        wrote the day since (:meth:`collector.rollups.RollupUpdater.evaluate`), else read and parsed."""
        ctx = self.contexts.context(agent_id)
        now = datetime.fromtimestamp(self.clock.time(), self.tz)
        rules = self.rules.for_day(day)

        def judge(rollup: DayRollup) -> tuple[list[RuleHit], list[dict[str, Any]]]:
            hits = [h for h in rules.evaluate(rollup.features(now)) if h.rule.feature not in CHECKER_FEATURES]
            return hits, (rollup.evidence(now) if hits else [])

        judged = self.contexts.evaluate(agent_id, day, judge)
        if judged is None or not judged[0]:
            return []
        hits, evidence = judged
        top: dict[str, str] = {}
        out = []
        for hit in hits:  # most severe first
            covered = top.setdefault(hit.rule.feature, hit.rule.name)
            alert = self._alert(agent_id, ctx.team, day, hit, evidence, seqs)
            if covered != hit.rule.name:
                alert.suppressed = f"covered by {covered}"
            out.append(alert)
        return out

    @staticmethod
    def _alert(agent_id: str, team: str, day: str, hit: RuleHit, evidence: list[dict[str, Any]],
               seqs: list[int]) -> Alert:
        rule = hit.rule
        kinds = EVIDENCE_KINDS.get(rule.feature, ())
        moments = [e for e in evidence if e["kind"] in kinds]
        fresh = set(seqs)
        in_batch = [e for e in moments if e["seq"] in fresh]
        anchor = (in_batch or moments)[-1]["seq"] if moments else (max(seqs) if seqs else 0)
        shown = [{k: e[k] for k in ("ts", "seq", "what", "what_zh")} for e in moments[-MAX_EVIDENCE:]]
        return Alert(key=f"{agent_id}|{rule.name}|{day}", rule=rule.name, severity=rule.severity,
                     agent_id=agent_id, team=team, day=day, seq=int(anchor), title=rule.help_en,
                     title_zh=rule.help_zh, value=hit.value, threshold=float(rule.threshold),
                     reasons=[reason(rule.feature, hit.value, rule.threshold)], evidence=shown)
