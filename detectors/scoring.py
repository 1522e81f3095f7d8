"""One day's report: score every agent-day, rank, explain, grade and summarise by team.

``score_day`` is the one entry point the collector calls; it does no storage and no HTTP. Its input
is the day's rollups (:class:`AgentDayInput`: context, features, evidence, activity strip) and each
agent's trailing feature history; reviewer labels, if given, tune the thresholds first
(:mod:`detectors.labels`), lower or raise findings by pattern (:mod:`detectors.feedback`) and are shown
on today's findings. The reading order is :mod:`detectors.tiers`': hard-rule breaches and tamper signals
first, then anomalies, each tier by its calibrated score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contract.settings_table import (
    SettingsError,
    at_least,
    check_rows,
    markdown,
    one_of,
    rows,
    setting,
    toml_value,
    within,
)
from detectors import registry
from detectors.base import Matrix
from detectors.context import AgentContext
from detectors.ensemble import COMBINATIONS, DEFAULT_MEMBERS, Ensemble, EnsembleResult
from detectors.errors import ConfigError, InvalidInput
from detectors.features import FEATURE_NAMES
from detectors.feedback import Note, Pattern, PatternBuilder, apply_labels
from detectors.labels import Label, Thresholds, tune
from detectors.reasons import Reason, explain
from detectors.rules import SEVERITIES, Adaptation, RuleSet
from detectors.tiers import TIERS, chance, order, tiers, unlike_peers
from detectors.views import PeerView, SelfView, peer_view, self_view

LEVELS = ("none", *SEVERITIES)
MAX_CHART_PEERS = 300


def _names(raw: Any) -> tuple[str, ...]:
    """Detector names from a TOML list, or a comma-separated (or TOML list) string from the environment."""
    if isinstance(raw, str):
        raw = toml_value(raw) if raw.lstrip().startswith("[") else raw.split(",")
    if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
        raise ValueError("expected a list of detector names")
    return tuple(v.strip() for v in raw if v.strip())


def _table(raw: Any, what: str) -> Mapping[str, Any]:
    if isinstance(raw, str):
        raw = toml_value(raw)
    if isinstance(raw, tuple):
        raw = dict(raw)
    if not isinstance(raw, Mapping):
        raise ValueError(f"expected a table of {what}")
    return raw


def _weights(raw: Any) -> tuple[tuple[str, float], ...]:
    out = []
    for name, value in _table(raw, "member = weight").items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"the weight of {name!r} must be a number")
        out.append((str(name), float(value)))
    return tuple(out)


def _rules(raw: Any) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    out = []
    for name, change in _table(raw, "rule = {threshold, severity, enabled}").items():
        change = dict(change) if isinstance(change, tuple) else change
        if not isinstance(change, Mapping):
            raise ValueError(f"rule {name!r}: expected a table of threshold, severity and enabled")
        out.append((str(name), tuple(change.items())))
    return tuple(out)


def _known_members(members: tuple[str, ...]) -> str | None:
    if not members:
        return "must name at least one detector"
    if len(set(members)) != len(members):
        return "must not name a detector twice"
    unknown = [m for m in members if m not in registry.names()]
    return f"names unknown detector(s) {', '.join(unknown)} (known: {', '.join(registry.names())})" if unknown \
        else None


def _non_negative_weights(weights: tuple[tuple[str, float], ...]) -> str | None:
    bad = [name for name, w in weights if not (math.isfinite(w) and w >= 0)]
    return f"must be finite and not negative (not for {', '.join(bad)})" if bad else None


_SCORE = within(0.0, 1.0, open_low=True)


@dataclass(frozen=True)
class ScoringConfig:
    """Scoring settings: one declarative table (:mod:`contract.settings_table`), set in the collector's
    ``[scoring]`` table of ``collector.toml`` (environment ``SEATGUARD_SCORING_<NAME>``)."""

    members: tuple[str, ...] = setting(DEFAULT_MEMBERS, "Ensemble members, by detector registry name.",
                                       _known_members, parse=_names)
    combine: str = setting("fisher", f"How member ranks combine: {', '.join(COMBINATIONS)}.",
                           one_of(*COMBINATIONS))
    weights: tuple[tuple[str, float], ...] = setting(
        (), "Member weight multipliers (default 1; each view weighs the same in total), e.g. `{ rules = 2.0 }`.",
        _non_negative_weights, parse=_weights)
    min_peers: int = setting(5, "Smallest peer group (same team and role); smaller groups widen to the role.",
                             at_least(1))
    min_history: int = setting(5, "Days of own history before the agent is also compared with its past.",
                               at_least(1))
    history_days: int = setting(30, "Trailing days of own history used.", at_least(1))
    min_fit: int = setting(5, "Fewest agent-days a model is fitted on; with fewer a member does not score.",
                           at_least(2))
    contamination: float = setting(0.05, "Expected share of unusual agent-days (sets each member's threshold_).",
                                   within(0.0, 0.5, open_low=True))
    random_state: int = setting(0, "Seed of the randomised members.")
    threshold_low: float = setting(0.5, "Score from which an agent-day is a low-severity finding.", _SCORE)
    threshold_medium: float = setting(0.62, "Score from which a finding is medium severity.", _SCORE)
    threshold_high: float = setting(0.8, "Score from which a finding is high severity.", _SCORE)
    rules: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = setting(
        (), "Rule overrides, e.g. `{ bulk_id_copy = { threshold = 25, severity = \"high\", enabled = true } }`.",
        parse=_rules)
    adapt_skip_days: int = setting(3, "Most recent history days left out of the own normal that adapting rules use.")
    adapt_min_days: int = setting(10, "Older history days needed before an own normal raises a rule threshold.",
                                  at_least(1))
    adapt_margin: float = setting(2.0, "An adapting rule's threshold rises to this many times the agent's own "
                                       "normal.", at_least(1.0))
    adapt_cap: float = setting(20.0, "An own normal raises a rule's threshold to at most this many times its "
                                     "default.", at_least(1.0))
    adapt_spread_k: float = setting(3.0, "A low own normal lowers an adapting rule's threshold to the normal plus "
                                         "this many robust spreads ...", at_least(1.0))
    adapt_floor: float = setting(0.5, "... but to no less than this share of its default.", within(0.1, 1.0))
    tune_from_labels: bool = setting(True, "Let reviewer labels move the thresholds (see detectors.labels) and "
                                           "lower or raise findings by pattern (detectors.feedback).")
    min_labels: int = setting(10, "Labels needed before the score thresholds move.", at_least(1))
    max_findings: int = setting(100, "Most findings listed in a report.", at_least(1))
    max_reasons: int = setting(3, "Most reasons per finding.", at_least(1))
    reason_min_z: float = setting(3.0, "Smallest deviation (robust z) worth a reason.")
    max_evidence: int = setting(8, "Most evidence links per finding.", at_least(1))

    def __post_init__(self) -> None:
        check_rows(self, ConfigError)
        stray = sorted({name for name, _ in self.weights} - set(self.members))
        if stray:
            raise ConfigError(f"setting 'weights' names detector(s) that are not members: {', '.join(stray)}")
        weights = dict(self.weights)
        if all(weights.get(name, 1.0) == 0 for name in self.members):
            raise ConfigError("setting 'weights' gives every member weight 0: every score would be 0 (no findings)")
        self.thresholds()
        self.adaptation()
        self.rule_set()

    def adaptation(self) -> Adaptation:
        """How an agent's own normal moves the thresholds of the rules that adapt (detectors.rules)."""
        return Adaptation(self.adapt_skip_days, self.adapt_min_days, self.adapt_margin, self.adapt_cap,
                          self.adapt_spread_k, self.adapt_floor)

    def thresholds(self) -> Thresholds:
        try:
            return Thresholds(self.threshold_low, self.threshold_medium, self.threshold_high)
        except InvalidInput as exc:
            raise ConfigError(f"settings 'threshold_low', 'threshold_medium', 'threshold_high': {exc.reason}") \
                from exc

    def rule_set(self) -> RuleSet:
        try:
            return RuleSet().with_overrides({name: dict(change) for name, change in self.rules})
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"setting 'rules': {exc}") from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, source: str = "scoring settings") -> ScoringConfig:
        """The configuration from plain values (a TOML ``[scoring]`` table, a benchmark's grid point)."""
        known = {row.name: row for row in rows(cls)}
        unknown = set(data or {}) - set(known)
        if unknown:
            raise ConfigError(f"{source}: unknown scoring setting(s): {', '.join(sorted(unknown))}")
        try:
            return cls(**{name: known[name].coerce(value, source) for name, value in (data or {}).items()})
        except SettingsError as exc:
            raise ConfigError(str(exc)) from exc


def settings_markdown() -> str:
    """The scoring settings as a Markdown table, generated from :class:`ScoringConfig`."""
    return markdown(rows(ScoringConfig))


@dataclass(frozen=True)
class AgentDayInput:
    """One agent-day as the collector hands it over: who, the rollup's features and evidence."""

    ctx: AgentContext
    features: Mapping[str, float]
    evidence: Sequence[Mapping[str, Any]] = ()
    strip: str = ""


@dataclass
class TeamFigures:
    team: str
    agents: int
    leads: int
    active_min: float
    active_min_mean: float
    utilisation: float
    aht_s: float
    cases_closed: float
    cases_per_hour: float
    findings: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Finding:
    agent_id: str
    team: str
    role: str
    rank: int
    score: float
    severity: str
    reasons: list[Reason]
    rules: list[str]
    evidence: list[dict[str, Any]]
    features: dict[str, float]
    members: dict[str, float | None]
    shift: tuple[str, str]
    strip: str = ""
    label: str | None = None
    charts: list[dict[str, Any]] = field(default_factory=list)
    pattern: Pattern = field(default_factory=Pattern)
    feedback: list[Note] = field(default_factory=list)
    tier: str = "anomaly"  # detectors.tiers.TIERS
    chance: float = 1.0    # calibrated: how often an ordinary agent-day looks this unusual

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id, "rank": self.rank, "score": round(self.score, 4),
            "tier": self.tier, "chance": float(f"{self.chance:.3g}"), "severity": self.severity,
            "reasons": [r.text for r in self.reasons],
            "reasons_zh": [r.text_zh for r in self.reasons], "team": self.team, "role": self.role,
            "rules": self.rules, "reason_details": [r.to_dict() for r in self.reasons],
            "evidence": self.evidence, "members": self.members, "label": self.label,
            "features": {k: round(v, 3) for k, v in self.features.items()},
            "pattern": self.pattern.to_dict(), "feedback": [n.to_dict() for n in self.feedback],
        }


@dataclass
class DailyReport:
    day: date
    findings: list[Finding]
    teams: list[TeamFigures]
    agents_scored: int
    members: list[str]
    thresholds: Thresholds
    rules: dict[str, dict[str, Any]]
    ranking: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "findings": [f.to_dict() for f in self.findings],
            "agents_scored": self.agents_scored,
            "members": self.members,
            "thresholds": {"low": self.thresholds.low, "medium": self.thresholds.medium,
                           "high": self.thresholds.high},
            "rules": self.rules,
            "teams": [t.to_dict() for t in self.teams],
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


@dataclass
class DayScores:
    """Everything computed for one day before the report is written (used by evaluation too)."""

    rows: list[AgentDayInput]
    F: Matrix
    peer: PeerView
    own: SelfView
    result: EnsembleResult
    order: NDArray[np.int_]
    tier: NDArray[np.int_]  # per row, index in detectors.tiers.TIERS
    chance: NDArray[np.float64]  # per row, the calibrated score (detectors.tiers.chance)
    rule_limits: Matrix | None = None  # each agent's rule thresholds (RuleSet.thresholds), own normal included


def _matrix(rows: Sequence[Mapping[str, float]], what: str, missing: float = 0.0) -> Matrix:
    """Rows of features in FEATURE_NAMES order; a feature a row lacks reads as ``missing`` (with NaN,
    for history, a NaN value counts as missing too)."""
    try:
        arr = np.array([[float(r.get(n, missing)) for n in FEATURE_NAMES] for r in rows], dtype=np.float64)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"{what}: features must map names to numbers ({exc})") from exc
    arr = arr.reshape(len(rows), len(FEATURE_NAMES))
    if (np.isinf(arr).any() if math.isnan(missing) else not np.isfinite(arr).all()):
        raise InvalidInput(f"{what}: features must be finite numbers")
    return arr


def compute(today: Sequence[AgentDayInput], history: Mapping[str, Sequence[Mapping[str, float]]],
            config: ScoringConfig, rules: RuleSet) -> DayScores:
    """Views, ensemble scores, tiers, calibrated scores and the reading order of one day's agents
    (:mod:`detectors.tiers`)."""
    rows = list(today)
    ids = [r.ctx.agent_id for r in rows]
    if len(set(ids)) != len(ids):
        raise InvalidInput("each agent may appear only once in a day")
    F = _matrix([r.features for r in rows], "today")
    # history stored before a feature existed lacks it: NaN for the own view (not compared), 0 for the rules
    own_hist = [_matrix(list(history.get(a, ()))[-config.history_days:], f"history of {a}", np.nan) for a in ids]
    hist = [np.nan_to_num(h, nan=0.0) for h in own_hist]
    peer = peer_view(F, [r.ctx.team for r in rows], [r.ctx.role for r in rows], config.min_peers)
    own = self_view(F, own_hist, config.min_history)
    limits = rules.thresholds(hist, config.adaptation())
    options = {"rules": {"rules": rules, "thresholds": limits}} if "rules" in config.members else {}
    ensemble = Ensemble(config.members, config.combine, dict(config.weights), config.min_fit,
                        config.contamination, config.random_state, options)
    views = {"peer": peer.z, "self": own.z, "raw": F}
    everyone = np.ones(len(rows), dtype=bool)
    result = ensemble.fit_score(views, {"peer": everyone, "self": own.has, "raw": everyone})
    tier = tiers(F, rules)
    p = chance(result, dict(config.weights), unlike={"peer": unlike_peers(peer, [r.ctx.role for r in rows])})
    return DayScores(rows, F, peer, own, result, order(tier, p, result.score, rules.score(F, limits), ids), tier, p,
                     limits)


def _rescored(ds: DayScores, score: NDArray[np.float64], rules: RuleSet, config: ScoringConfig) -> DayScores:
    """``ds`` with the scores replaced (reviewer feedback) and re-ranked the same way: the calibrated
    score moves with the ensemble score (its evidence scaled by the same factor), the tiers stay."""
    ids = [r.ctx.agent_id for r in ds.rows]
    old = ds.result.score
    factor = np.where(old > 0, score / np.where(old > 0, old, 1.0), 1.0)
    p = chance(ds.result, dict(config.weights), factor,
               unlike={"peer": unlike_peers(ds.peer, [r.ctx.role for r in ds.rows])})
    return replace(ds, result=EnsembleResult(ds.result.members, score), chance=p,
                   order=order(ds.tier, p, score, rules.score(ds.F, ds.rule_limits), ids))


_EVIDENCE_KINDS = {
    "copied_ids": ("id_copy",), "copied_cards": ("id_copy",), "copied_phones": ("id_copy",),
    "copies_to_offlist": ("copy_to_offlist",), "ids_to_messaging": ("copy_to_offlist",),
    "removable_writes": ("usb_write",), "removable_mb": ("usb_write",), "drive_mounts": ("drive_mount",),
    "remote_access_starts": ("remote_access",), "remote_access_min": ("remote_access",),
    "screen_capture_starts": ("screen_capture",), "screen_capture_min": ("screen_capture",),
    "pages_without_case": ("page_without_case",), "customers_viewed": ("page_without_case",),
    "reviewed_customers": ("reviewed_customer",),
    "customer_pages": ("page_without_case",), "offlist_site_min": ("offlist_site",),
    "silent_shift_min": ("silence",), "outside_shift_min": ("outside_shift",),
    "night_min": ("outside_shift",),
    "outside_shift_lookups": ("page_without_case", "id_copy", "usb_write", "outside_shift"),
    "first_activity": ("outside_shift",), "last_activity": ("outside_shift",), "screenshots": ("screenshot",),
    "stops_in_shift": ("stop",), "stopped_shift_min": ("stop",), "rollup_bound_hits": ("rollup_bound",),
    "returns_in_shift": ("return", "silence", "stop"),
    "spool_dropped": ("spool_drop",),
}


def _evidence(row: AgentDayInput, day: date, reasons: list[Reason], limit: int) -> list[dict[str, Any]]:
    wanted: list[str] = []
    for r in reasons:
        wanted += [k for k in _EVIDENCE_KINDS.get(r.feature, ()) if k not in wanted]
    items = [dict(e) for e in row.evidence if isinstance(e, Mapping) and "seq" in e]
    picked = sorted((e for e in items if e.get("kind") in wanted),
                    key=lambda e: (wanted.index(str(e.get("kind"))), str(e.get("ts", ""))))[:limit]
    if not picked and not wanted:
        picked = items[:limit]
    picked.sort(key=lambda e: (str(e.get("ts", "")), int(e["seq"])))
    for e in picked:
        e["link"] = f"/agents/{row.ctx.agent_id}/timeline?date={day.isoformat()}#seq-{int(e['seq'])}"
    return picked


def _charts(ds: DayScores, i: int, reasons: list[Reason]) -> list[dict[str, Any]]:
    peers = ds.peer.members[int(ds.peer.group[i])]
    if peers.size > MAX_CHART_PEERS:
        peers = peers[np.linspace(0, peers.size - 1, MAX_CHART_PEERS).astype(np.int_)]
    out = []
    for r in reasons:
        j = FEATURE_NAMES.index(r.feature)
        out.append({"feature": r.feature, "value": float(ds.F[i, j]), "median": float(ds.peer.median[i, j]),
                    "peers": [float(v) for v in ds.F[peers, j]],
                    "own_low": _num(ds.own.low[i, j]), "own_high": _num(ds.own.high[i, j])})
    return out


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _finding(ds: DayScores, i: int, rank: int, severity: str, day: date, rules: RuleSet,
             config: ScoringConfig) -> Finding:
    row = ds.rows[i]
    feats = {n: float(ds.F[i, j]) for j, n in enumerate(FEATURE_NAMES)}
    hits = rules.evaluate(feats, None if ds.rule_limits is None else ds.rule_limits[i])
    own: dict[str, dict[str, float]] = {}
    if ds.own.days[i] > 0:
        own = {n: {"median": float(ds.own.median[i, j]), "low": float(ds.own.low[i, j]),
                   "high": float(ds.own.high[i, j])} for j, n in enumerate(FEATURE_NAMES)}
    peer_z = {n: float(ds.peer.z[i, j]) for j, n in enumerate(FEATURE_NAMES)}
    self_z = {n: float(ds.own.z[i, j]) for j, n in enumerate(FEATURE_NAMES)} if ds.own.has[i] else {}
    peer_median = {n: float(ds.peer.median[i, j]) for j, n in enumerate(FEATURE_NAMES)}
    reasons = explain(feats, row.ctx.role, peer_median, ds.peer.scope[i], own, int(ds.own.days[i]), peer_z,
                      self_z, hits, config.max_reasons, config.reason_min_z)
    members = {m.name: _num(float(m.pvalues[i])) for m in ds.result.members}
    return Finding(row.ctx.agent_id, row.ctx.team, row.ctx.role, rank, float(ds.result.score[i]), severity,
                   reasons, [h.rule.name for h in hits], _evidence(row, day, reasons, config.max_evidence),
                   feats, members, (row.ctx.shift_start, row.ctx.shift_end), row.strip,
                   charts=_charts(ds, i, reasons), tier=TIERS[int(ds.tier[i])], chance=float(ds.chance[i]))


def team_figures(rows: Sequence[AgentDayInput], F: Matrix) -> list[TeamFigures]:
    """Call-center figures per team over its agents (leads are counted, not averaged in)."""
    col = {n: j for j, n in enumerate(FEATURE_NAMES)}
    teams: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        teams.setdefault(r.ctx.team, []).append(i)
    out = []
    for team in sorted(teams):
        idx = [i for i in teams[team] if rows[i].ctx.role == "agent"]
        leads = len(teams[team]) - len(idx)
        active = float(F[idx, col["active_min"]].sum()) if idx else 0.0
        cases = float(F[idx, col["cases_closed"]].sum()) if idx else 0.0
        busy = float((F[idx, col["utilisation"]] * F[idx, col["active_min"]]).sum()) if idx else 0.0
        handled = float((F[idx, col["handle_mean_s"]] * F[idx, col["cases_closed"]]).sum()) if idx else 0.0
        out.append(TeamFigures(team, len(idx), leads, active, active / len(idx) if idx else 0.0,
                               busy / active if active else 0.0, handled / cases if cases else 0.0, cases,
                               cases / (active / 60) if active else 0.0))
    return out


def _grades(ds: DayScores, thresholds: Thresholds, rules: RuleSet) -> NDArray[np.int_]:
    """Per row, the index in LEVELS of its severity: the worse of the rule and the score grade."""
    score = ds.result.score
    model = np.where(score >= thresholds.high, 3, np.where(score >= thresholds.medium, 2,
                                                            np.where(score >= thresholds.low, 1, 0)))
    return np.asarray(np.maximum(model, rules.grade(ds.F, ds.rule_limits) + 1), dtype=np.int_)


def tuned_for_day(day: date, labels: Sequence[Label], config: ScoringConfig | None = None,
                  ) -> tuple[Thresholds, RuleSet]:
    """The thresholds and rules that judge ``day``: the defaults with the configured overrides, tuned by
    the reviewer labels of earlier days. The daily report and the real-time alerts both take them here."""
    config = config or ScoringConfig()
    thresholds, rules = config.thresholds(), config.rule_set()
    earlier = [lab for lab in labels if lab.day < day]
    if earlier and config.tune_from_labels:
        thresholds, rules = tune(earlier, thresholds, rules, min_labels=config.min_labels)
    return thresholds, rules


def score_day(day: date, today: Sequence[AgentDayInput], history: Mapping[str, Sequence[Mapping[str, float]]],
              labels: Sequence[Label] | None = None, config: ScoringConfig | None = None) -> DailyReport:
    """Score, rank and explain one day. ``history`` maps agent_id to its past days' features, oldest
    first (only the last ``history_days`` are used). ``labels``: reviewer labels so far (any day)."""
    if not isinstance(day, date):
        raise InvalidInput("day must be a date")
    config = config or ScoringConfig()
    labels = list(labels or [])
    thresholds, rules = tuned_for_day(day, labels, config)
    if not today:
        return DailyReport(day, [], [], 0, list(config.members), thresholds, rules.to_dict())
    ds = compute(today, history, config, rules)
    patterns = PatternBuilder(ds.F, ds.peer.z, ds.own.z, ds.own.has, rules, config.reason_min_z,
                              config.max_reasons)
    fed = apply_labels(day, [r.ctx.agent_id for r in ds.rows], ds.result.score, patterns,
                       labels if config.tune_from_labels else ())
    shown = np.minimum(_grades(ds, thresholds, rules), 1)     # lowered by labels, never hidden by them
    if fed.notes:
        ds = _rescored(ds, fed.score, rules, config)
    grades = np.maximum(_grades(ds, thresholds, rules), shown)
    verdicts = {lab.agent_id: lab.verdict for lab in labels if lab.day == day}
    findings = []
    for rank, i in enumerate(ds.order, start=1):
        if grades[i] == 0:
            continue
        finding = _finding(ds, int(i), rank, LEVELS[int(grades[i])], day, rules, config)
        finding.label = verdicts.get(finding.agent_id)
        finding.pattern, finding.feedback = patterns.of(int(i)), fed.notes.get(int(i), [])
        findings.append(finding)
        if len(findings) >= config.max_findings:
            break
    teams = team_figures(ds.rows, ds.F)
    flagged: dict[str, int] = {}
    for f in findings:
        flagged[f.team] = flagged.get(f.team, 0) + 1
    for t in teams:
        t.findings = flagged.get(t.team, 0)
    ranking = [(ds.rows[int(i)].ctx.agent_id, float(ds.result.score[int(i)])) for i in ds.order]
    return DailyReport(day, findings, teams, len(ds.rows), list(config.members), thresholds, rules.to_dict(),
                       ranking)
