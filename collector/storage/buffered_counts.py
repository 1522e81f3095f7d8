"""Counters kept in memory and written in one transaction at most every so often.

A refused request is counted in the ``rejections`` table. Written one by one, each refusal was a write
transaction (on SQLite: the database's one write lock and an fsync), so a flood of garbage requests,
which need no key to send, competed with every agent's uploads for the lock. The counts now gather here
and one transaction writes them: at once when none was written in the last :data:`EVERY_S`, otherwise
when that time is up (a timer). Reading the counts through the store flushes first; another process (the
``stats`` command) sees them at most :data:`EVERY_S` late. A process that dies loses at most that much
counting (the Prometheus counters are exact and live).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger(__name__)
EVERY_S = 1.0


class BufferedCounts:
    """Counts per key, handed to ``write`` (a mapping key -> how many more) at most every ``every_s``."""

    def __init__(self, write: Callable[[dict[str, int]], None], every_s: float = EVERY_S) -> None:
        self._write = write
        self.every_s = every_s
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._timer: threading.Timer | None = None
        self.writes = 0

    def add(self, key: str) -> None:
        with self._lock:
            self._pending[key] += 1
            if time.monotonic() - self._last < self.every_s:  # written lately: the timer writes the rest
                if self._timer is None:
                    self._timer = threading.Timer(self.every_s, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.flush()

    def flush(self) -> None:
        """Write what is pending now (nothing to do when nothing is)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            timer, self._timer = self._timer, None
            if pending:
                self._last = time.monotonic()
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if pending:
            try:
                self._write(dict(pending))
                self.writes += 1
            except Exception:  # a count must never fail a request; the Prometheus counters still have it
                log.warning("could not write %d counts (%s): lost", sum(pending.values()), ", ".join(sorted(pending)),
                            exc_info=True)
