"""The rollups this process wrote last, kept in memory with the version it wrote them at.

Folding a batch used to read the agent-day's rollup state, parse it and deep-copy it into a
:class:`~detectors.rollup.DayRollup`, then deep-copy it again to save it; the alert evaluator read and
parsed it once more. Now the updater (:class:`collector.rollups.RollupUpdater`) keeps each rollup it
saved here, with the row's version (``rollups.version``, :mod:`collector.storage.rollup_rows`). Inside
the next ingest transaction it reads only the stored version: the same one means no process wrote the
row since, so it folds the new events into the kept copy; another one (another collector process wrote
the agent-day, or retention removed it) means the copy is dropped and the state read from the
database, as before. The agent's row lock that every ingest takes first keeps the version from moving
between that read and the save.

A copy is out of this cache while a batch folds into it (:meth:`HotRollups.take`) and goes back only
after the commit (:meth:`HotRollups.put`), so a rolled-back batch leaves nothing behind; readers (the
alert evaluator, :meth:`HotRollups.read`) hold the copy's lock, which ``take`` waits for.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from detectors.rollup import DayRollup

log = logging.getLogger(__name__)
MAX_DAYS = 2048  # agent-days kept (least recently written dropped first): today's rollups of 2,000 agents,
# 40-250 KiB each in memory (a day of 700 to 50,000 events); a miss costs what every batch cost before
# (read and parse the state)
T = TypeVar("T")


@dataclass
class HotDay:
    rollup: DayRollup
    version: int
    lock: threading.Lock = field(default_factory=threading.Lock)


class HotRollups:
    def __init__(self, max_days: int = MAX_DAYS) -> None:
        self.max_days = max_days
        self._lock = threading.Lock()
        self._days: OrderedDict[tuple[str, str], HotDay] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def take(self, agent_id: str, day: str, version: int | None) -> DayRollup | None:
        """The kept rollup of the agent-day if it is at ``version`` (the stored one), taken out of the
        cache for the caller to fold into; None when there is none or it is stale (then dropped)."""
        with self._lock:
            hot = self._days.pop((agent_id, day), None)
        if hot is None or version is None or hot.version != version:
            self.misses += 1
            return None
        with hot.lock:  # wait for a reader still looking at it; nobody new finds it now
            self.hits += 1
            return hot.rollup

    def put(self, agent_id: str, day: str, rollup: DayRollup, version: int) -> None:
        """Keep ``rollup`` as saved at ``version`` (called after the commit)."""
        with self._lock:
            self._days[(agent_id, day)] = HotDay(rollup, version)
            self._days.move_to_end((agent_id, day))
            while len(self._days) > self.max_days:
                self._days.popitem(last=False)

    def drop(self, agent_id: str, day: str) -> None:
        with self._lock:
            self._days.pop((agent_id, day), None)

    def read(self, agent_id: str, day: str, version: int | None,
             use: Callable[[DayRollup], T]) -> tuple[bool, T | None]:
        """``(True, use(rollup))`` with the kept rollup of the agent-day at ``version``, under its lock;
        ``(False, None)`` when none is kept at that version (read the database instead)."""
        with self._lock:
            hot = self._days.get((agent_id, day))
        if hot is None or version is None or hot.version != version:
            return False, None
        with hot.lock:
            with self._lock:
                still = self._days.get((agent_id, day)) is hot
            if not still:  # a batch took it meanwhile: it may be half folded
                return False, None
            return True, use(hot.rollup)

    def __len__(self) -> int:
        with self._lock:
            return len(self._days)
