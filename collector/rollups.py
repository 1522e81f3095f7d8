"""Per agent-day rollups kept at ingest (so that reports never rescan raw events).

:class:`RollupUpdater` is installed as the store's rollup hook: inside the ingest transaction it
loads the touched agent-days' rollup states, feeds them the new (masked) events and integrity
findings, and writes them back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from collector.config import Settings
from collector.policy import PolicyService
from collector.storage import StoredEvent
from collector.storage.sql import RollupAccess, SqlStore
from detectors.errors import DetectorError
from detectors.rollup import INTEGRITY_KINDS, AgentContext, DayRollup, Policy

log = logging.getLogger(__name__)
DEFAULT_SHIFT = ("09:00", "18:00")


class RollupUpdater:
    def __init__(self, store: SqlStore, settings: Settings, policy: PolicyService) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self._contexts: dict[str, AgentContext] = {}
        self._policy_version: Any = None
        self._lock = threading.Lock()

    def context(self, agent_id: str) -> AgentContext:
        current = self.policy.current()
        with self._lock:
            if current.get("version") != self._policy_version:
                self._contexts.clear()
                self._policy_version = current.get("version")
            ctx = self._contexts.get(agent_id)
        if ctx is None:
            agent = self.store.get_agent(agent_id) or {}
            ctx = AgentContext(
                agent_id=agent_id,
                team=str(agent.get("team") or "unassigned"),
                role="lead" if agent.get("role") == "lead" else "agent",
                shift_start=str(agent.get("shift_start") or DEFAULT_SHIFT[0]),
                shift_end=str(agent.get("shift_end") or DEFAULT_SHIFT[1]),
                tz=self.settings.timezone,
                policy=Policy.from_dict(current),
            )
            with self._lock:
                self._contexts[agent_id] = ctx
        return ctx

    def __call__(self, access: RollupAccess, agent_id: str, events: list[StoredEvent],
                 integrity: list[tuple[str, dict[str, Any]]]) -> None:
        ctx = self.context(agent_id)
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in events:
            by_day[e.day].append(e.event)
        counted = [(kind, _missing(kind, detail)) for kind, detail in integrity if kind in INTEGRITY_KINDS]
        if counted:
            first_day = min(by_day) if by_day else datetime.now(self.settings.tz).date().isoformat()
            by_day.setdefault(first_day, [])
        for day, day_events in by_day.items():
            state = access.load(agent_id, day)
            try:
                rollup = DayRollup.new(ctx, date.fromisoformat(day)) if state is None \
                    else DayRollup.from_state(ctx, state)
            except DetectorError as exc:
                log.error("rollup %s/%s unreadable (%s); starting it afresh", agent_id, day, exc)
                rollup, state = DayRollup.new(ctx, date.fromisoformat(day)), None
            for event in day_events:
                try:
                    rollup.add(event)
                except (DetectorError, TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
                    # validated events should never get here; one odd event must not fail its batch
                    log.error("rollup %s/%s skipped event seq %s: %s", agent_id, day, event.get("seq"),
                              type(exc).__name__)
            if counted and day == min(by_day):
                for kind, count in counted:
                    rollup.add_integrity(kind, count)
            access.save(agent_id, day, rollup.to_state(), existed=state is not None, features=rollup.features())


def _missing(kind: str, detail: dict[str, Any]) -> int:
    """How many events (seq_gap) or batches (batch_gap) a finding stands for; 1 for a chain break."""
    try:
        return max(1, int(detail["missing_to"]) - int(detail["missing_from"]) + 1)
    except (KeyError, TypeError, ValueError):
        return 1
