"""The shift entries of a day (:mod:`collector.shifts`), kept in memory for the checks that need them
per batch or per minute: the real-time rules (:meth:`collector.rollups.RollupUpdater.evaluate`), the
live checks (wall, silence, stops) and the daily report, which all judge an agent-day with
:meth:`collector.rollups.RollupUpdater.context_on`.

A day is read once (every agent's entries of that day in one query, :meth:`Store.shifts_on`) and kept
until the entries change. A change made in this process (:class:`collector.shifts.ShiftService`) drops
the days it touched at once. A change made by another process (another ``serve``, the ``shift`` CLI)
reaches this one by a change notice on PostgreSQL (topic ``shifts``, sent in the writing transaction,
:mod:`collector.storage.notify`); without live notices (SQLite, or while the listening connection is
down) every use checks the stored version (``kv.shifts.version``, changed by every write of the
entries) at most every :attr:`ShiftEntries.CHECK_S` seconds, as :class:`collector.policy.PolicyService`
does for the policy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from collector.storage.base import DayShifts, Store
from collector.storage.notify import ChangeFeed
from collector.storage.shifts import VERSION_KEY

log = logging.getLogger(__name__)
MAX_DAYS = 64  # days kept (least recently used dropped first): today, yesterday and late events' days


class ShiftEntries:
    CHECK_S = 0.5
    LIVE_CHECK_S = 30.0
    TOPIC = "shifts"

    def __init__(self, store: Store, feed: ChangeFeed | None = None, max_days: int = MAX_DAYS) -> None:
        self.store = store
        self.feed = feed or ChangeFeed()
        self.max_days = max_days
        self._lock = threading.Lock()
        self._days: OrderedDict[str, dict[str, DayShifts]] = OrderedDict()
        self._generation = 0  # moves on every drop: a read that began before it is not kept
        self._version: str | None = None
        self._checked = float("-inf")
        self.reads = 0
        self.feed.subscribe(self.TOPIC, self._heard)
        self.feed.on_reset(self.drop_all)

    def day(self, day: str) -> dict[str, DayShifts]:
        """Every agent's entries of ``day`` (agent_id -> kind -> (start, end)); do not change the answer."""
        self._check()
        with self._lock:
            found = self._days.get(day)
            if found is not None:
                self._days.move_to_end(day)
                return found
            generation = self._generation
        found = self.store.shifts_on(day)
        with self._lock:
            self.reads += 1
            if generation == self._generation:
                self._days[day] = found
                while len(self._days) > self.max_days:
                    self._days.popitem(last=False)
        return found

    def of(self, agent_id: str, day: str) -> DayShifts:
        """One agent's entries of ``day`` (empty: the usual shift applies)."""
        return self.day(day).get(agent_id, {})

    def fresh(self, day: str) -> dict[str, DayShifts]:
        """The day's entries read now (the daily report: as entered at this moment, whoever entered them)."""
        self.drop([day])
        return self.day(day)

    def drop(self, days: Iterable[str]) -> None:
        """Read these days again on next use."""
        with self._lock:
            self._generation += 1
            for day in days:
                self._days.pop(day, None)

    def drop_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._days.clear()

    def notice(self, days: list[str]) -> dict[str, Any]:
        """The change notice for other processes that a write of these days' entries sends."""
        return {"first": min(days), "last": max(days)} if days else {}

    def _heard(self, payload: dict[str, Any]) -> None:
        first, last = payload.get("first"), payload.get("last")
        if not isinstance(first, str) or not isinstance(last, str):
            self.drop_all()
            return
        with self._lock:
            self._generation += 1
            for day in [d for d in self._days if first <= d <= last]:
                del self._days[day]
        log.debug("shift entries of %s..%s changed elsewhere: read again on next use", first, last)

    def _check(self) -> None:
        """Has any process written entries since? At most every CHECK_S without live notices, every
        LIVE_CHECK_S with them (a notice lost on a listening connection dropped without a word)."""
        now = time.monotonic()
        if now - self._checked < (self.LIVE_CHECK_S if self.feed.live else self.CHECK_S):
            return
        self._checked = now
        version = self.store.get_kv(VERSION_KEY)
        if version != self._version:
            self.drop_all()
            self._version = version

    def kept_days(self) -> int:
        with self._lock:
            return len(self._days)
