"""Hard policy breaches: one table of rules with configurable thresholds, and the rules scorer.

A rule fires when its feature reaches its threshold (``value >= threshold``). Every rule can be
re-tuned, re-graded or switched off through :meth:`RuleSet.with_overrides`
(``{"bulk_id_copy": {"threshold": 20, "severity": "medium", "enabled": true}}``); reviewer labels
tune them too (:mod:`detectors.labels`).

As an ensemble member (``rules``) the rule set scores an agent-day by the severity weights of the
rules that fired, each scaled up gently with how far the value went past the threshold.

Own normal (:class:`Adaptation`, :meth:`RuleSet.thresholds`). A rule marked ``adapts`` (levels that
are some people's job: customer look-ups, after-hours and night work, time off the allow-list)
judges each agent against its own normal. A high normal raises the threshold to
``margin`` times it, so a lead who opens 150 customers a day does not fire every day, while three
times their normal still does. A low normal lowers it to the normal plus ``spread_k`` robust spreads
(never below ``floor`` times the rule's): three times one's usual 3 caseless look-ups fires although
the peers' 10 a day would hide it. Hard breaches (removable drives, remote access, screen capture, IDs
taken to messaging, customer data taken to off-list apps) and every tamper signal (silence, stops,
sequence gaps, chain breaks, missing batches, forged answers, policy mismatches, rollup bounds) never
adapt: one is one too many for anybody (the breach tier of :mod:`detectors.tiers` holds only such
rules, bulk ID and card copies among them). An insider who tries to *train* the baseline by ramping up
slowly meets four limits:

- the most recent ``skip_days`` days never count, so a ramp has to be older than that to move it;
- the own normal is a median, and at most the median of the *older* half of the baseline days, so
  a level counts as normal only once it has held for most of the older half of the window (about
  two weeks of a 30-day history), and every day of the climb that is more than ``margin`` times the
  normal of its time fires the rule and shows in the report;
- nothing moves before ``min_days`` baseline days exist (a new hire is judged by the defaults);
- a threshold never rises above ``cap`` times its default, whatever the history says, and being
  erratic buys nothing: the spread can only lower a threshold toward the normal, never raise one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors.base import Detector, Matrix, Vector
from detectors.errors import ConfigError
from detectors.features import FEATURE_BY_NAME, FEATURE_NAMES, FEATURES
from detectors.registry import register

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_WEIGHT = {"low": 1.0, "medium": 2.0, "high": 4.0, "critical": 8.0}
FLOORS = np.array([f.floor for f in FEATURES], dtype=np.float64)


@dataclass(frozen=True)
class Rule:
    name: str
    feature: str
    threshold: float
    severity: str
    help_en: str
    help_zh: str
    enabled: bool = True
    adapts: bool = False  # the threshold may rise to the agent's own normal (see Adaptation)

    def __post_init__(self) -> None:
        if self.feature not in FEATURE_BY_NAME:
            raise ConfigError(f"rule {self.name!r}: unknown feature {self.feature!r}")
        if self.severity not in SEVERITIES:
            raise ConfigError(f"rule {self.name!r}: severity must be one of {', '.join(SEVERITIES)}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float) \
                or not math.isfinite(self.threshold) or self.threshold <= 0:
            raise ConfigError(f"rule {self.name!r}: threshold must be a positive number")


RULES: tuple[Rule, ...] = (
    Rule("id_to_messaging", "ids_to_messaging", 1, "medium",
         "an ID number copied and then taken to a messaging app", "身份证号复制后切换到聊天软件"),
    Rule("ids_to_messaging", "ids_to_messaging", 5, "critical",
         "several ID numbers copied and then taken to a messaging app", "多个身份证号复制后切换到聊天软件"),
    Rule("bulk_id_copy", "copied_ids", 10, "high", "many ID numbers copied", "大量复制身份证号"),
    Rule("bulk_card_copy", "copied_cards", 10, "high", "many bank card numbers copied", "大量复制银行卡号"),
    Rule("copy_to_offlist", "copies_to_offlist", 3, "medium",
         "customer data copied and then taken to a non-allowed app", "客户数据复制后切换到非白名单应用"),
    Rule("removable_write", "removable_writes", 1, "high", "files written to a removable drive",
         "向移动存储写入文件"),
    Rule("drive_mount", "drive_mounts", 1, "low", "removable drive plugged in", "插入移动存储"),
    Rule("remote_access", "remote_access_starts", 1, "high", "remote access tool started",
         "启动远程控制软件"),
    Rule("screen_capture", "screen_capture_starts", 1, "high", "screen capture or recording tool started",
         "启动截屏或录屏软件"),
    Rule("agent_silenced", "silent_shift_min", 30, "high", "agent silent during the shift",
         "排班时间内客户端无上报"),
    Rule("stopped_in_shift", "stops_in_shift", 1, "high",
         "agent stopped during the shift (not a quick restart, not the end of the shift)",
         "排班时间内客户端被停止（非快速重启、非下班）"),
    Rule("returned_in_shift", "returns_in_shift", 1, "high",
         "the agent went away during the shift and came back while it went on (silenced, stopped or killed)",
         "排班时间内客户端中断后又在班次内恢复（被静默、停止或杀掉）"),
    Rule("spool_drops", "spool_dropped", 1, "medium", "the agent's spool dropped events",
         "客户端本地缓存丢弃了事件"),
    Rule("rollup_bound", "rollup_bound_hits", 1, "medium",
         "so much of one kind of activity that the day's rollup reached a bound",
         "某类活动多到触及当天汇总上限"),
    Rule("seq_gap", "seq_missing", 1, "medium", "events missing from the agent's sequence",
         "客户端事件序号缺失"),
    Rule("chain_break", "chain_breaks", 1, "high", "batch chain broken (batches altered or deleted)",
         "批次哈希链断裂（批次被篡改或删除）"),
    Rule("batch_gap", "batch_gaps", 1, "medium", "upload batches missing", "上传批次缺失"),
    Rule("after_hours", "outside_shift_min", 60, "medium",
         "long activity outside the shift and its grace period that casework does not account for "
         "(overtime at the usual pace does not count)",
         "排班及宽限期外长时间活动且无法由办案解释（正常节奏的加班不计）", adapts=True),
    Rule("after_hours_lookups", "outside_shift_lookups", 3, "high",
         "customer data looked up, copied or exported outside the shift with no case",
         "排班外无案件查看、复制或导出客户数据"),
    Rule("night_work", "night_min", 30, "medium", "activity at night", "夜间活动", adapts=True),
    Rule("browse_without_case", "pages_without_case", 10, "medium",
         "customer pages opened without a case", "无案件时查看客户页面", adapts=True),
    Rule("offlist_sites", "offlist_site_min", 60, "low", "long time on sites outside the allow-list",
         "长时间浏览白名单以外网站", adapts=True),
    Rule("offlist_apps", "offlist_app_min", 60, "low", "long time in apps outside the allow-list",
         "长时间使用白名单以外应用", adapts=True),
    Rule("forged_answers", "unsigned_answers", 1, "high",
         "answers not signed by the collector reached the agent (a stand-in server or proxy)",
         "客户端收到非采集端签名的应答（冒充的服务器或代理）"),
    Rule("policy_mismatch", "policy_mismatches", 1, "high",
         "the agent ran a policy the collector did not issue, or an outdated one",
         "客户端运行的策略并非采集端下发或已过期"),
)


@dataclass(frozen=True)
class Adaptation:
    """How far an agent's own normal may move the thresholds of the rules that adapt (module notes)."""

    skip_days: int = 3      # the most recent history days never count
    min_days: int = 10      # baseline days (older than skip_days) needed before a threshold moves
    margin: float = 2.0     # the threshold rises to margin x the own normal ...
    cap: float = 20.0       # ... but never above cap x the rule's default threshold
    spread_k: float = 3.0   # a low normal lowers it to normal + spread_k robust spreads ...
    floor: float = 0.5      # ... but never below floor x the rule's default threshold

    def __post_init__(self) -> None:
        for name in ("skip_days", "min_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"adaptation: {name} must be a non-negative integer")
        if self.min_days < 1:
            raise ConfigError("adaptation: min_days must be at least 1")
        for name, low, high in (("margin", 1.0, math.inf), ("cap", 1.0, math.inf), ("spread_k", 1.0, math.inf),
                                ("floor", 0.1, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or not low <= value <= high:
                raise ConfigError(f"adaptation: {name} must be a number within {low:g}..{high:g}")

    def normal(self, history: Matrix) -> tuple[Vector, Vector] | None:
        """The own normal and its robust spread for every feature from one agent's history (rows: days,
        oldest first), or None without enough baseline days. The normal is the median of the days older
        than ``skip_days``, at most the median of the older half of them; the spread is 1.4826 times
        their median absolute deviation, at least the feature's documented floor."""
        base = history[: max(0, history.shape[0] - self.skip_days)]
        if base.shape[0] < self.min_days:
            return None
        older = base[: (base.shape[0] + 1) // 2]
        median = np.median(base, axis=0)
        spread = np.maximum(1.4826 * np.median(np.abs(base - median), axis=0), FLOORS)
        return np.asarray(np.minimum(median, np.median(older, axis=0)), dtype=np.float64), spread

    def limit(self, default: Vector, normal: Vector, spread: Vector) -> Vector:
        """Thresholds for own ``normal`` levels: raised to ``margin`` x normal, or lowered to the normal
        plus ``spread_k`` spreads; never below ``floor`` nor above ``cap`` times the ``default``."""
        lowered = np.minimum(default, normal + self.spread_k * spread)
        own = np.maximum(lowered, self.margin * normal)
        return np.asarray(np.clip(own, self.floor * default, self.cap * default), dtype=np.float64)


NO_ADAPTATION = Adaptation(min_days=10 ** 9)


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    value: float
    threshold: float | None = None  # the agent's own threshold, when its normal raised the rule's

    @property
    def limit(self) -> float:
        """The threshold the value reached: the agent's own if it was raised, else the rule's."""
        return self.rule.threshold if self.threshold is None else self.threshold


class RuleSet:
    """An immutable, validated set of rules (the defaults plus any overrides)."""

    def __init__(self, rules: tuple[Rule, ...] = RULES) -> None:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ConfigError("rule names must be unique")
        self.rules = tuple(rules)
        self.by_name = {r.name: r for r in self.rules}
        active = [r for r in self.rules if r.enabled]
        self._cols = np.array([FEATURE_NAMES.index(r.feature) for r in active], dtype=np.int_)
        self._thr = np.array([r.threshold for r in active], dtype=np.float64)
        self._w = np.array([SEVERITY_WEIGHT[r.severity] for r in active], dtype=np.float64)
        self._active = active

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> RuleSet:
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise ConfigError("rule overrides must map rule names to settings")
        updated = dict(self.by_name)
        for name, change in overrides.items():
            if name not in updated:
                raise ConfigError(f"unknown rule {name!r} (known: {', '.join(self.by_name)})")
            if not isinstance(change, Mapping) or set(change) - {"threshold", "severity", "enabled"}:
                raise ConfigError(f"rule {name!r}: only threshold, severity and enabled can be set")
            updated[name] = replace(updated[name], **dict(change))
        return RuleSet(tuple(updated.values()))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {r.name: {"threshold": r.threshold, "severity": r.severity, "enabled": r.enabled}
                for r in self.rules}

    @property
    def active(self) -> tuple[Rule, ...]:
        """The enabled rules, in the column order of :meth:`thresholds`."""
        return tuple(self._active)

    def thresholds(self, history: list[Matrix], adaptation: Adaptation = NO_ADAPTATION) -> Matrix:
        """Each agent's thresholds (rows: agents, columns: :attr:`active` rules): the rule's own, or
        for a rule that adapts, :meth:`Adaptation.limit` of the agent's normal in ``history[i]`` (days
        in feature order, oldest first)."""
        out = np.tile(self._thr, (len(history), 1))
        adapts = np.array([r.adapts for r in self._active], dtype=bool)
        if not adapts.any():
            return out
        for i, h in enumerate(history):
            found = adaptation.normal(h) if h.ndim == 2 and h.shape[0] else None
            if found is None:
                continue
            normal, spread = found
            own = adaptation.limit(self._thr, normal[self._cols], spread[self._cols])
            out[i] = np.where(adapts, own, self._thr)
        return out

    def _limits(self, rows: int, thresholds: Matrix | None) -> Matrix:
        if thresholds is None:
            return np.tile(self._thr, (rows, 1))
        if thresholds.shape != (rows, len(self._active)):
            raise ConfigError(f"thresholds must be {rows} x {len(self._active)} (agents x enabled rules)")
        return thresholds

    def evaluate(self, features: Mapping[str, float], thresholds: Vector | None = None) -> list[RuleHit]:
        """The rules one agent-day breaks, most severe first (``thresholds``: the agent's own, one per
        :attr:`active` rule, from :meth:`thresholds`)."""
        limits = self._limits(1, None if thresholds is None else np.asarray(thresholds)[None, :])[0]
        hits = []
        for r, limit in zip(self._active, limits, strict=True):
            value = float(features.get(r.feature, 0.0))
            if value >= limit:
                hits.append(RuleHit(r, value, None if limit == r.threshold else float(limit)))
        hits.sort(key=lambda h: (-SEVERITY_WEIGHT[h.rule.severity], -h.value / h.limit))
        return hits

    def grade(self, X: Matrix, thresholds: Matrix | None = None) -> NDArray[np.int_]:
        """Per row, the index in SEVERITIES of the most severe rule that fired (-1: none)."""
        out = np.full(X.shape[0], -1, dtype=np.int_)
        limits = self._limits(X.shape[0], thresholds)
        for k, (rule, col) in enumerate(zip(self._active, self._cols, strict=True)):
            fired = X[:, col] >= limits[:, k]
            out[fired] = np.maximum(out[fired], SEVERITIES.index(rule.severity))
        return out

    def score(self, X: Matrix, thresholds: Matrix | None = None) -> Vector:
        """Severity-weighted breaches per row of a raw feature matrix (FEATURE_NAMES order)."""
        if not self._active:
            return np.zeros(X.shape[0])
        values = X[:, self._cols]
        ratio = values / self._limits(X.shape[0], thresholds)
        fired = ratio >= 1.0
        excess = 1.0 + 0.25 * np.log(np.where(fired, ratio, 1.0))
        return np.asarray((fired * self._w * np.minimum(excess, 3.0)).sum(axis=1), dtype=np.float64)


@register
class RulesDetector(Detector):
    name = "rules"
    view = "raw"
    help = "Hard policy breaches, weighted by severity (see detectors.rules.RULES)."
    min_samples = 1
    learns = False

    def __init__(self, contamination: float = 0.1, random_state: int = 0,
                 rules: RuleSet | None = None, thresholds: Matrix | None = None) -> None:
        super().__init__(contamination, random_state)
        if rules is not None and not isinstance(rules, RuleSet):
            raise ConfigError("rules must be a RuleSet")
        if thresholds is not None and (not isinstance(thresholds, np.ndarray) or thresholds.ndim != 2):
            raise ConfigError("thresholds must be a 2-D array (agents x enabled rules)")
        self.rules = rules
        self.thresholds = thresholds  # per row of the matrix scored (RuleSet.thresholds); None: the rules'

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "rules": self.rules, "thresholds": self.thresholds}

    def _fit(self, X: Matrix) -> Vector:
        if X.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"the rules need the {len(FEATURE_NAMES)} raw features")
        self.rules_ = self.rules or RuleSet()
        return self._score(X)

    def _score(self, X: Matrix) -> Vector:
        if self.thresholds is not None and self.thresholds.shape[0] != X.shape[0]:
            raise ValueError("per-agent thresholds are for the rows they were computed for")
        try:
            return self.rules_.score(X, self.thresholds)
        except ConfigError as exc:
            raise ValueError(exc.reason) from exc
