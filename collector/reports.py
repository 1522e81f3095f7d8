"""The daily anomaly report: built from stored rollups (never from raw events), stored, labelled.

Need-to-know is judged across agents here (:mod:`detectors.need_to_know`, scope: setting
``need_to_know_scope``): the day's customer sets come from its rollups, and the judged figures are
merged back into the day's stored features, so that later reports compare an agent with a history
judged the same way. A history day not judged yet (no report built for it, or another scope) is
judged from its rollups first, one day at a time, newest first and at most :data:`JUDGE_BACK_DAYS` a
report (after an upgrade the history fills within days; the daily job judges each day as it goes).

A day counts as judged only as its rollups were then: the marker ``need_to_know.judged.{day}`` holds the
scope and a digest of the versions of the day's rollups that were judged (each write of a rollup's state
gives it a new version, :mod:`collector.storage.rollup_rows`). A late batch for a day already judged (an
agent offline for days) re-saves that agent-day's own figures and changes its version, and may change
its colleagues' figures too (a case of the late agent makes a colleague's page a review), so the next
report finds the digest changed and judges the whole day again. Ingest does nothing for this: the report
reads the history's versions with its features, in one read (:meth:`Store.history_with_versions`), and
reads the features again only when it judged a day. Versions are read before the states judged, so a
batch that lands in between leaves the old digest behind and the day is judged again the next time. A
shift entered after the fact recomputes an agent-day's features but keeps the judged ones
(:data:`detectors.need_to_know.JUDGED_FEATURES`): a shift does not change the customer sets.

Ingest saves a day still under way without its features (computing them is a pass over the whole day, per
batch, and nothing reads them before the day is over): a report first computes the features of every
finished day of its window saved without them, from the stored state (:meth:`ReportService.fill_features`),
and a report of a finished day stores the features it computed for that day; each is kept only if no batch
wrote the row since.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import orjson

from collector.errors import CollectorError, NotFound
from collector.rollups import RollupUpdater
from collector.storage.base import Store
from contract.masking import mask_text
from detectors.csv_cells import defuse_text
from detectors.errors import DetectorError, InvalidInput
from detectors.feedback import Pattern
from detectors.labels import VERDICTS, Label
from detectors.need_to_know import CustomerSets, Verdict, apply, judge
from detectors.render import render_csv, render_html
from detectors.rollup import DayRollup
from detectors.scoring import AgentDayInput, DailyReport, ScoringConfig, score_day

log = logging.getLogger(__name__)
_JUDGED_KV = "need_to_know.judged.{day}"
JUDGE_BACK_DAYS = 3
FILL_ROWS_PER_WRITE = 200  # features stored per write transaction by fill_features


class ReportService:
    """Builds, stores and labels daily reports from the store's rollups; ``rollups`` gives each agent's
    context, ``tz`` is the collector's zone, ``scope`` the ``need_to_know_scope`` setting and ``scoring``
    the ``[scoring]`` table."""

    def __init__(self, store: Store, rollups: RollupUpdater, tz: tzinfo, scope: str,
                 scoring: ScoringConfig) -> None:
        self.store = store
        self.rollups = rollups
        self.tz = tz
        self.scope = scope
        self.scoring = scoring

    def _inputs(self, day: date) -> list[AgentDayInput]:
        """The day's inputs to scoring, need-to-know judged across agents."""
        return self._judged_inputs(day)[0]

    def _judged_inputs(self, day: date) -> tuple[list[AgentDayInput], dict[str, Verdict]]:
        updater = self.rollups
        now = datetime.now(self.tz)
        out = []
        agents = {a["agent_id"]: a for a in self.store.list_agents()}
        updater.entries.fresh(day.isoformat())  # the day's rota and scheduled overtime, as entered now
        states = self.store.rollups_for_day(day.isoformat())
        contexts = [updater.context_on(agent_id, day.isoformat(), agents.get(agent_id, {}))  # retired since? its
                    for agent_id, _ in states]  # last stop was the uninstall
        pairs = list(zip(states, contexts, strict=True))
        sets: list[tuple[str, str, CustomerSets]] = [
            (agent_id, ctx.team, DayRollup.stored_customer_sets(state)) for (agent_id, state), ctx in pairs]
        verdicts = judge(sets, self.scope)
        moment = now if day >= now.date() else None
        for (agent_id, state), ctx in pairs:
            rollup = DayRollup.from_state(ctx, state)
            verdict = verdicts.get(agent_id)
            reviewed = verdict.reviewed_keys if verdict is not None else frozenset()
            out.append(AgentDayInput(ctx, rollup.features(moment), rollup.evidence(moment, reviewed), rollup.strip()))
        return apply(out, verdicts), verdicts

    def _judge_history(self, first: date, last: date, versions: Mapping[str, Mapping[str, int]]) -> int:
        """Judge need-to-know for each day in [first, last] not judged yet under the current scope, or
        whose rollups changed since it was (a late batch); ``versions``: each day's rollup versions, read
        before any state. Returns how many days were judged."""
        scope = self.scope
        teams = {a["agent_id"]: str(a.get("team") or "unassigned") for a in self.store.list_agents()}
        day, judged = last, 0
        while day >= first and judged < JUDGE_BACK_DAYS:
            iso = day.isoformat()
            seen = versions.get(iso)
            mark = judged_mark(scope, seen or {})
            if seen and (was := self.store.get_kv(_JUDGED_KV.format(day=iso))) != mark:
                rows = []
                for agent_id, state in self.store.rollups_for_day(iso):
                    try:
                        sets = DayRollup.stored_customer_sets(state)
                        rows.append((agent_id, teams.get(agent_id, "unassigned"), sets))
                    except DetectorError as exc:
                        log.error("rollup %s/%s unreadable for need-to-know (%s): left unjudged", agent_id, day, exc)
                if was is not None and was.startswith(f"{scope}:"):
                    log.info("need-to-know for %s: rollups changed since it was judged (a late batch)", iso)
                self._remember(day, judge(rows, scope), mark)
                judged += 1
            day -= timedelta(days=1)
        return judged

    def _remember(self, day: date, verdicts: dict[str, Verdict], mark: str) -> None:
        changed = self.store.merge_features(day.isoformat(), {a: v.features() for a, v in verdicts.items()})
        if changed < len(verdicts):  # a row saved without features meanwhile (a batch after they were stored)
            log.info("need-to-know for %s: %d of %d rollups had no features yet; judged again next time", day,
                     len(verdicts) - changed, len(verdicts))
            return
        self.store.set_kv(_JUDGED_KV.format(day=day.isoformat()), mark)
        log.info("need-to-know for %s judged across agents (%s): %d rollups", day, mark, changed)

    def labels(self) -> list[Label]:
        """Every reviewer label so far (any day), as the detectors take them."""
        return [_label(row) for row in self.store.reports.labels()]

    def fill_features(self, first: date, last: date) -> int:
        """Compute and store the features of the rollups of finished days in [first, last] that were saved
        without them (see the module docstring); returns how many were stored."""
        last = min(last, datetime.now(self.tz).date() - timedelta(days=1))
        if last < first:
            return 0
        missing = self.store.rollups_without_features(first.isoformat(), last.isoformat())
        if not missing:
            return 0
        started = time.perf_counter()
        updater = self.rollups
        agents = {a["agent_id"]: a for a in self.store.list_agents()}
        stored, rows, fresh = 0, [], set()
        for agent_id, day in missing:
            if day not in fresh:
                updater.entries.fresh(day)  # the day's rota and scheduled overtime, as entered now
                fresh.add(day)
            found = self.store.rollup_state_version(agent_id, day)
            if found is None:
                continue
            state, version = found
            try:
                rollup = DayRollup.from_state(updater.context_on(agent_id, day, agents.get(agent_id, {})), state)
                rows.append((agent_id, day, version, rollup.features()))
            except DetectorError as exc:
                log.error("rollup %s/%s unreadable for its features (%s): left without", agent_id, day, exc)
            if len(rows) >= FILL_ROWS_PER_WRITE:
                stored += self.store.set_features(rows)
                rows = []
        stored += self.store.set_features(rows)
        log.info("features of %d finished agent-days computed from their rollups in %.2f s", stored,
                 time.perf_counter() - started)
        return stored

    def compute(self, day: date) -> DailyReport:
        scoring = self.scoring
        first, last = day - timedelta(days=scoring.history_days), day - timedelta(days=1)
        self.fill_features(first, last)  # the report's own day: its features are computed below anyway
        history, versions = self.store.history_with_versions(first.isoformat(), last.isoformat())
        if self._judge_history(first, last, versions):  # read again: the days judged now, as merged
            history = self.store.feature_history(first.isoformat(), last.isoformat())
        finished = day < datetime.now(self.tz).date()  # a finished day: later reports' history
        seen = self.store.rollup_versions(day.isoformat(), day.isoformat()).get(day.isoformat(), {}) \
            if finished else {}  # read before the states judged (see the module's docstring)
        inputs, verdicts = self._judged_inputs(day)
        if finished:  # rows saved while the day was under way get the features just computed (judged)
            iso = day.isoformat()
            self.store.set_features([(i.ctx.agent_id, iso, seen[i.ctx.agent_id], dict(i.features))
                                     for i in inputs if i.ctx.agent_id in seen])
            self._remember(day, verdicts, judged_mark(self.scope, seen))
        return score_day(day, inputs, history, self.labels(), scoring)

    def build(self, day: str) -> dict[str, Any]:
        when = _day(day)
        started = time.perf_counter()
        report = self.compute(when)
        as_json = report.to_dict()
        body = {"json": as_json, "html": render_html(report), "csv": render_csv(report)}
        self.store.reports.save(day, orjson.dumps(body).decode(), time.time())
        log.info("report for %s built in %.2f s: %d agents scored, %d findings", day,
                 time.perf_counter() - started, report.agents_scored, len(report.findings))
        return as_json

    def _stored(self, day: str) -> dict[str, Any] | None:
        raw = self.store.reports.load(_day(day).isoformat())
        return None if raw is None else dict(orjson.loads(raw))

    def get(self, day: str) -> dict[str, Any] | None:
        stored = self._stored(day)
        return None if stored is None else dict(stored["json"])

    def html(self, day: str) -> str:
        stored = self._stored(day)
        if stored is None:
            raise NotFound(f"no report for {day} yet")
        return str(stored["html"])

    def csv(self, day: str) -> str:
        stored = self._stored(day)
        if stored is None:
            raise NotFound(f"no report for {day} yet")
        return defuse_text(str(stored["csv"]))  # reports stored by an older release were not defused

    def label(self, agent_id: str, day: str, label: str, reviewer: str, note: str = "") -> None:
        if label not in VERDICTS:
            raise CollectorError(f"label must be one of {', '.join(VERDICTS)}", code="bad_label", status=400)
        report = self.get(day) or {}
        finding = next((f for f in report.get("findings", []) if f["agent_id"] == agent_id), None)
        if finding is None:
            raise NotFound(f"no finding for {agent_id} on {day}")
        pattern = Pattern.from_finding(finding)
        snapshot = {"score": finding["score"], "rules": finding.get("rules", []),
                    "values": finding.get("features", {}), "pattern": pattern.to_dict()}
        note = mask_text(note[:2000])  # privacy rule 1: what a reviewer types is masked like any stored text
        self.store.reports.save_label(agent_id, day, label, reviewer, note, time.time(),
                              orjson.dumps(snapshot).decode(), pattern.key)
        log.info("%s labelled %s on %s %s (pattern %s)", reviewer, agent_id, day, label, pattern.key or "-")


def judged_mark(scope: str, versions: Mapping[str, int]) -> str:
    """The judged marker of a day: the scope and a digest of the (agent, rollup version) pairs judged."""
    lines = "\n".join(f"{agent_id} {v}" for agent_id, v in sorted(versions.items()))
    return f"{scope}:{hashlib.sha256(lines.encode()).hexdigest()[:32]}"


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _label(row: dict[str, Any]) -> Label:
    """A stored label row as a :class:`Label`. Rows written before revision 0007 was applied by a
    collector that still wrote the snapshot into ``note`` are read the same way; a label without a
    stored pattern takes the one its snapshot's rules imply."""
    raw, note = row.get("snapshot"), str(row.get("note") or "")
    snapshot: Any = {}
    if raw is None and note.startswith("{"):
        snapshot = _json(note)                 # written before revision 0007: the snapshot held the note
        note = "" if isinstance(snapshot, dict) else note
    elif raw:
        snapshot = _json(raw)
        if snapshot is None:
            log.warning("label of %s on %s: unreadable snapshot, kept without it", row["agent_id"], row["day"])
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    note = note or str(snapshot.get("note", ""))
    try:
        pattern = Pattern.from_finding(snapshot) if snapshot else None
    except InvalidInput as exc:
        log.warning("label of %s on %s: %s; kept without a pattern", row["agent_id"], row["day"], exc)
        pattern = None
    return Label(agent_id=row["agent_id"], day=date.fromisoformat(row["day"]), verdict=row["label"],
                 score=float(snapshot.get("score", 0.0)), rules=tuple(snapshot.get("rules", ())),
                 values=snapshot.get("values", {}), reviewer=row["reviewer"], note=note, pattern=pattern)


def _day(day: str) -> date:
    try:
        return date.fromisoformat(day)
    except ValueError as exc:
        raise NotFound(f"not a date: {day!r} (expected YYYY-MM-DD)") from exc
