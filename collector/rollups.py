"""Per agent-day rollups kept at ingest (so that reports never rescan raw events).

:class:`RollupUpdater` is the ingest service's rollup hook, which the store runs: inside the ingest transaction it
loads the touched agent-days' rollup states, feeds them the new (masked) events and integrity
findings, and writes them back. Each day is folded with that day's shift entries (rota, scheduled
overtime: :mod:`collector.shifts`), read in the same transaction. An event a rollup refuses is handed
back to the store, which quarantines it with the reason instead of storing it.

Before an event is masked the ingest service asks :meth:`RollupUpdater.customer` for the customer of a
page, keyed with the deployment's secret (:mod:`collector.customer_secret`), so that the day's customer
sets stay exact even when the URL names a customer by a national ID number that masking cuts short.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from collector import customer_secret
from collector.hot_rollups import HotRollups
from collector.policy import PolicyService
from collector.shift_entries import ShiftEntries
from collector.shifts import day_context, one_window
from collector.storage import StoredEvent
from collector.storage.base import RollupAccess, Store
from contract.masking import mask_text
from detectors.context import AgentContext
from detectors.day_state import INTEGRITY_KINDS
from detectors.errors import DetectorError
from detectors.need_to_know import NO_CUSTOMER, CustomerKeyer, CustomerRef
from detectors.policy import Policy
from detectors.presence import shift_on
from detectors.rollup import DayRollup

log = logging.getLogger(__name__)
DEFAULT_SHIFT = ("09:00", "18:00")
_FOLD_PASSES = 3  # a day folded again at most twice after events were refused
_NOT_KEPT = object()
T = TypeVar("T")


class RollupUpdater:
    """Rollups in the collector's zone ``timezone`` (its calendar days), with the customer secret kept in
    the data folder ``data_dir``."""

    def __init__(self, store: Store, policy: PolicyService, timezone: str, data_dir: Path,
                 entries: ShiftEntries | None = None) -> None:
        self.store = store
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.policy = policy
        self.entries = ShiftEntries(store, policy.feed) if entries is None else entries  # the days' shift entries
        self._contexts: dict[str, AgentContext] = {}
        self._policy_version: Any = None
        self._lock = threading.Lock()
        secret = customer_secret.load_or_create(data_dir)
        customer_secret.check_shared(store, secret, data_dir)
        self.keyer = CustomerKeyer(secret)
        self.hot = HotRollups()
        self.today: Callable[[], str] = lambda: datetime.now(self.tz).date().isoformat()
        """The collector's calendar day now (ISO): a day from it on is still under way."""

    def customer(self, agent_id: str, event: dict[str, Any]) -> CustomerRef | None:
        """The keyed customer of a validated, not yet masked page.open (NO_CUSTOMER if it shows none);
        None for other kinds. The identifier itself goes no further than this call."""
        if event.get("kind") != "page.open" or not isinstance(event.get("url"), str):
            return None
        patterns = self.context(agent_id).policy.customer_res  # compiled once per policy version
        return self.keyer.find(event["url"], patterns) or NO_CUSTOMER

    def context(self, agent_id: str, agent: dict[str, Any] | None = None) -> AgentContext:
        """The agent's context for its rollups, cached per policy version. Reports pass the agent's row
        as read now (``agent``), so that a changed shift or the admin's retirement since counts."""
        current = self.policy.current()
        with self._lock:
            if current.get("version") != self._policy_version:
                self._contexts.clear()
                self._policy_version = current.get("version")
            ctx = self._contexts.get(agent_id)
        if ctx is not None and agent is not None and _changed(ctx, agent):
            ctx = None
        if ctx is None:
            agent = agent if agent is not None else (self.store.get_agent(agent_id) or {})
            revoked = agent.get("revoked_at")
            ctx = AgentContext(
                agent_id=agent_id,
                team=str(agent.get("team") or "unassigned"),
                role="lead" if agent.get("role") == "lead" else "agent",
                shift_start=str(agent.get("shift_start") or DEFAULT_SHIFT[0]),
                shift_end=str(agent.get("shift_end") or DEFAULT_SHIFT[1]),
                tz=self.timezone,
                policy=Policy.from_dict(current),
                retired_at=None if revoked is None else float(revoked),
            )
            with self._lock:
                self._contexts[agent_id] = ctx
        return ctx

    def context_on(self, agent_id: str, day: str, agent: dict[str, Any] | None = None) -> AgentContext:
        """The agent's context on ``day``: its usual one (:meth:`context`) with that day's shift entries
        applied (rota shift, scheduled overtime), as entered now. The daily report and the real-time rules
        both judge an agent-day with this; ingest applies the entries it reads in its own transaction."""
        return day_context(self.context(agent_id, agent), self.entries.of(agent_id, day))

    def live_context(self, agent_id: str, at: datetime | None = None) -> AgentContext:
        """The agent's context at ``at`` (default: now), for live checks (wall, silence and stop alerts): the
        day's rota shift, widened by scheduled overtime that touches it (one window, as those checks take).
        After midnight an overnight entry of the day before (a 22:00-06:00 shift, 23:00-02:00 overtime)
        still covers its hours, unless the day's own shift is on then."""
        local = (at or datetime.now(self.tz)).astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        base = self.context(agent_id)
        current = one_window(self.context_on(agent_id, local.date().isoformat()))
        if shift_on(current.shift_start, current.shift_end, minute):
            return current
        before = self.entries.of(agent_id, (local.date() - timedelta(days=1)).isoformat())
        if before:
            night = day_context(base, before)
            folded = one_window(night)
            for start, end in ((folded.shift_start, folded.shift_end), *night.overtime):
                if end < start and minute < _minutes(end):  # over midnight, and its morning part is not over
                    return replace(folded, shift_start=start, shift_end=end)
        return current

    def __call__(self, access: RollupAccess, agent_id: str, events: list[StoredEvent],
                 integrity: list[tuple[str, dict[str, Any]]]) -> list[tuple[StoredEvent, str]]:
        """Fold the new events into their days' rollups; returns the events a rollup refused, with the
        reason (the store quarantines them). Refused events leave no trace in the saved rollup.

        A day this process wrote last is folded into its kept copy (:mod:`collector.hot_rollups`) when the
        stored version is still the one written; otherwise its state is read from the database."""
        ctx = self.context(agent_id)
        by_day: dict[str, list[StoredEvent]] = defaultdict(list)
        for e in events:
            by_day[e.day].append(e)
        today = self.today()
        counted = [(kind, _missing(kind, detail)) for kind, detail in integrity if kind in INTEGRITY_KINDS]
        if counted:
            by_day.setdefault(min(by_day) if by_day else today, [])
        refused: list[tuple[StoredEvent, str]] = []
        for day, day_events in by_day.items():
            day_ctx = day_context(ctx, access.shifts(agent_id, day))
            version = access.version(agent_id, day)
            rollup = self._fold_kept(day_ctx, agent_id, day, version, day_events)
            if rollup is None:
                state = None if version is None else access.load(agent_id, day)
                rollup, failed = self._fold(day_ctx, agent_id, day, state, day_events)
                refused.extend(failed)
            if counted and day == min(by_day):
                for kind, count in counted:
                    rollup.add_integrity(kind, count)
            # a day still under way is saved without its features: nothing reads them before it is over,
            # and they cost a pass over the whole day per batch (the report computes them, fill_features)
            features = rollup.features() if day < today else None
            saved = access.save_json(agent_id, day, rollup.to_json().decode(), version, features)
            access.after_commit(partial(self.hot.put, agent_id, day, rollup, saved))
        return refused

    def _fold_kept(self, ctx: AgentContext, agent_id: str, day: str, version: int | None,
                   events: list[StoredEvent]) -> DayRollup | None:
        """The kept rollup of the day at the stored ``version`` with ``events`` added, or None (nothing
        kept, stale, made with another context, or an event refused: then the caller folds from the
        stored state, which this transaction has not changed)."""
        rollup = self.hot.take(agent_id, day, version)
        if rollup is None or not (rollup.ctx is ctx or rollup.ctx == ctx):
            return None
        for e in events:
            try:
                rollup.add(e.event, e.customer, e.at)
            except (DetectorError, TypeError, ValueError, KeyError, OverflowError, AttributeError):
                return None  # half folded: dropped; _fold sets the event aside and says why
        return rollup

    def evaluate(self, agent_id: str, day: str, use: Callable[[DayRollup], T]) -> T | None:
        """``use`` the newest stored rollup of the agent-day with the agent's context on that day
        (:meth:`context_on`: the day's shift entries applied, as the daily report applies them; what the
        alert evaluator judges); None when the day has no rollup. The kept copy serves when its version is
        the stored one and it was made with that context."""
        ctx = self.context_on(agent_id, day)
        version = self.store.rollup_version(agent_id, day)
        if version is None:
            return None
        found, value = self.hot.read(agent_id, day, version,
                                     lambda r: use(r) if r.ctx is ctx or r.ctx == ctx else _NOT_KEPT)
        if found and value is not _NOT_KEPT:
            return cast(T, value)
        state = self.store.rollup_state(agent_id, day)
        return None if state is None else use(DayRollup.from_state(ctx, state))

    def _fold(self, ctx: AgentContext, agent_id: str, day: str, state: dict[str, Any] | None,
              events: list[StoredEvent]) -> tuple[DayRollup, list[tuple[StoredEvent, str]]]:
        """The day's rollup with ``events`` added. An event whose ``add`` raises is set aside and the day
        is folded again from its stored state without it, so that half an update never stays behind."""
        refused: list[tuple[StoredEvent, str]] = []
        skip: set[int] = set()
        for _ in range(_FOLD_PASSES):
            rollup = self._start(ctx, agent_id, day, state)
            failed = []
            for e in events:
                if e.seq in skip:
                    continue
                try:
                    rollup.add(e.event, e.customer, e.at)
                except (DetectorError, TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
                    failed.append((e, f"rollup failed: {type(exc).__name__}: {mask_text(str(exc))[:200]}"))
            if not failed:
                return rollup, refused
            for e, reason in failed:
                log.warning("rollup %s/%s refused event seq %s: %s", agent_id, day, e.seq, reason)
                skip.add(e.seq)
                refused.append((e, reason))
        # every pass found new failures (state-dependent ones): give up on the batch's part of this day
        log.error("rollup %s/%s kept failing; the batch's %d events of the day are quarantined",
                  agent_id, day, len(events))
        refused = [(e, "rollup failed repeatedly for this day's events") for e in events]
        return self._start(ctx, agent_id, day, state), refused

    @staticmethod
    def _start(ctx: AgentContext, agent_id: str, day: str, state: dict[str, Any] | None) -> DayRollup:
        if state is not None:
            try:
                return DayRollup.from_state(ctx, state)
            except DetectorError as exc:
                log.error("rollup %s/%s unreadable (%s); starting it afresh", agent_id, day, exc)
        return DayRollup.new(ctx, date.fromisoformat(day))


def _changed(ctx: AgentContext, agent: dict[str, Any]) -> bool:
    """Has the agent's row moved on from ``ctx`` (retired, or given another shift)?"""
    revoked = agent.get("revoked_at")
    return (ctx.retired_at, ctx.shift_start, ctx.shift_end) != (
        None if revoked is None else float(revoked), str(agent.get("shift_start") or DEFAULT_SHIFT[0]),
        str(agent.get("shift_end") or DEFAULT_SHIFT[1]))


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _missing(kind: str, detail: dict[str, Any]) -> int:
    """How many events (seq_gap), batches (batch_gap) or refused answers (unsigned_answers, ``count``) a
    finding stands for; 1 for a chain break or a policy mismatch."""
    if isinstance(detail.get("count"), int) and detail["count"] > 0:
        return int(detail["count"])
    try:
        return max(1, int(detail["missing_to"]) - int(detail["missing_from"]) + 1)
    except (KeyError, TypeError, ValueError):
        return 1
