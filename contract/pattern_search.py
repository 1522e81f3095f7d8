"""Searching the policy's patterns in what a PC sends, at a bounded cost, and failing closed.

A URL or title comes from the PC: hostile content. Python's ``re`` searches an accepted pattern
(:mod:`contract.regex_safety`) in time up to the square of each window of :func:`regex_safety.search`
(``\\d+x`` over 64 KiB of digits: about 0.3 s), so a batch of such URLs would hold the agent's write lock
(and on SQLite the database's) for minutes. :class:`PolicyPattern` therefore searches:

- a text of at most :data:`SHORT_CHARS` characters with Python's engine (its worst case there is a fraction
  of a millisecond, and it is the fastest engine for the ordinary short URL);
- a longer ASCII text with RE2 (:mod:`contract.regex_re2`), in the same windows and with the same meaning:
  linear time, whatever the pattern and the text;
- what RE2 cannot judge with Python's meaning (a text with other characters, a pattern with no RE2 form,
  a collector or agent without ``google-re2``) with Python's engine under a time :class:`Budget`: per event
  :data:`EVENT_BUDGET_S`, and within the :func:`batch_budget` that ingest opens per batch,
  :data:`BATCH_BUDGET_S` for the whole batch. The budget is looked at between windows, so one search goes
  over it by at most one window (a pattern anchored at the start: its one search of
  :data:`regex_safety.MAX_ANCHORED_CHARS`).

A search the budget cuts short gives :data:`UNJUDGED`, not "no match": it is counted
(:func:`unjudged_count`, the collector's ``seatguard_policy_texts_unjudged``) and logged, and each question
of :mod:`contract.policy` says what it counts as (a customer page of an unknown customer; no case ID).
:data:`UNJUDGED` has no truth value: code that tests it with ``if`` fails loudly instead of reading "no match".
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol

from contract.regex_re2 import Re2Form, translate
from contract.regex_safety import MAX_MATCH_CHARS, MAX_SEARCHED_CHARS, is_anchored, kept, windows

log = logging.getLogger(__name__)

SHORT_CHARS = 128  # texts this short: Python's engine (worst ~0.1 ms a pattern; the ordinary URL: under 1 µs)
EVENT_BUDGET_S = 0.005  # Python-engine time one question about one event's text may take, all patterns
BATCH_BUDGET_S = 0.25  # Python-engine time the questions about one ingested batch may take together
_LOG_EVERY = 1000
_clock = time.perf_counter


class Hit(Protocol):
    """What a search found (``re.Match`` is one)."""

    def start(self) -> int: ...
    def end(self) -> int: ...
    def group(self, index: int, /) -> Any: ...
    def groups(self) -> tuple[Any, ...]: ...


class Unjudged:
    """The answer of a search that was cut short: neither a match nor its absence."""

    _instance: Unjudged | None = None

    def __new__(cls) -> Unjudged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        raise TypeError("an unjudged search is neither a match nor none: compare it with `is UNJUDGED`")

    def __repr__(self) -> str:
        return "UNJUDGED"


UNJUDGED = Unjudged()


class Budget:
    """Seconds the Python engine may still take; spending is passed on to ``parent`` (the batch's)."""

    __slots__ = ("seconds", "spent", "parent")

    def __init__(self, seconds: float, parent: Budget | None = None) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.parent = parent

    def left(self) -> float:
        own = self.seconds - self.spent
        return own if self.parent is None else min(own, self.parent.left())

    def charge(self, seconds: float) -> None:
        self.spent += seconds
        if self.parent is not None:
            self.parent.charge(seconds)


_BATCH: ContextVar[Budget | None] = ContextVar("seatguard_pattern_batch_budget", default=None)


@contextlib.contextmanager
def batch_budget(seconds: float = BATCH_BUDGET_S) -> Iterator[Budget]:
    """Within it, every event's budget also draws on one of ``seconds`` for the whole batch."""
    budget = Budget(seconds)
    token = _BATCH.set(budget)
    try:
        yield budget
    finally:
        _BATCH.reset(token)


def event_budget() -> Budget:
    """A budget for the questions about one event's text (inside the batch's, when one is open)."""
    return Budget(EVENT_BUDGET_S, _BATCH.get())


class _Counts:
    lock = threading.Lock()
    unjudged = 0
    logged: set[str] = set()


def unjudged_count() -> int:
    """How many searches this process cut short (their texts counted as the policy's questions say)."""
    return _Counts.unjudged


def _note_unjudged(pattern: str, length: int) -> None:
    with _Counts.lock:
        _Counts.unjudged += 1
        n = _Counts.unjudged
        first = pattern not in _Counts.logged and len(_Counts.logged) < 1024
        if first:
            _Counts.logged.add(pattern)
    if first or n % _LOG_EVERY == 0:
        log.warning("pattern %r: a text of %d characters could not be judged within the matching time budget "
                    "(%d such texts so far in this process); it counts as the policy's question says "
                    "(a customer page of an unknown customer; no case ID)", pattern, length, n)


class _Found:
    """A hit of RE2 in the bytes of an ASCII text (offsets in the text)."""

    __slots__ = ("_text", "_spans")

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self._text = text
        self._spans = spans

    def start(self) -> int:
        return self._spans[0][0]

    def end(self) -> int:
        return self._spans[0][1]

    def group(self, index: int = 0, /) -> str | None:
        a, b = self._spans[index]
        return None if a < 0 else self._text[a:b]

    def groups(self) -> tuple[str | None, ...]:
        return tuple(self.group(i) for i in range(1, len(self._spans)))


def _fast_at(rx: Any, data: bytes, text: str, pos: int, end: int) -> _Found | None:
    """Python's ``rx.search(text, pos, end)`` by RE2: on the window and the character before it (which ``\\b``
    and a multi-line ``^`` look at), ending where the window does (where ``$`` and ``\\b`` hold)."""
    base = pos - 1 if pos else 0
    m = rx.search(data[base:end], pos - base)
    if m is None:
        return None
    spans = [m.span(i) for i in range(len(m.groups()) + 1)]
    return _Found(text, [(a + base, b + base) if a >= 0 else (a, b) for a, b in spans])


class PolicyPattern:
    """One of the policy's regular expressions, compiled for both engines."""

    __slots__ = ("pattern", "rx", "fast", "anchored")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.rx = re.compile(pattern)
        self.fast: Re2Form | None = translate(pattern)
        self.anchored = is_anchored(pattern)

    def __repr__(self) -> str:
        return f"PolicyPattern({self.pattern!r}, re2={self.fast is not None})"

    def search(self, text: str, budget: Budget | None = None) -> Hit | None | Unjudged:
        """The first match in the windows of :func:`contract.regex_safety.search`, None, or :data:`UNJUDGED`."""
        n = len(text)
        if n <= SHORT_CHARS:  # at most ~0.1 ms: only the batch's budget counts it (and only when open)
            batch = _BATCH.get()
            if batch is None or n == 0:  # (Python's \B fails on an empty text, RE2's holds)
                return self.rx.search(text, 0, n)
            if batch.spent < batch.seconds:
                started = _clock()
                m = self.rx.search(text, 0, n)
                batch.spent += _clock() - started
                return m
        n = min(n, MAX_SEARCHED_CHARS)
        fast = self.fast
        if fast is not None:
            head = text if n == len(text) else text[:n]
            if head.isascii() and not (fast.dollar and "\n" in head):
                data = head.encode("ascii")
                if n > MAX_MATCH_CHARS and fast.ends_alike and fast.compiled.search(data) is None:
                    return None  # no match in the whole text: none in any window (the usual long URL)
                return self._fast_search(fast.compiled, data, head, n)
        return self._slow_search(text, n, event_budget() if budget is None else budget)

    def _fast_search(self, rx: Any, data: bytes, text: str, n: int) -> Hit | None:
        for pos, end, last in windows(n, self.anchored):
            m = _fast_at(rx, data, text, pos, end)
            if m is not None and kept(m, pos, end, last):
                return m
        return None

    def _slow_search(self, text: str, n: int, budget: Budget) -> Hit | None | Unjudged:
        left = budget.left()
        if left <= 0:
            _note_unjudged(self.pattern, n)
            return UNJUDGED
        rx = self.rx
        started = _clock()
        deadline = started + left
        try:
            for pos, end, last in windows(n, self.anchored):
                if not last and _clock() > deadline:  # a single or last window runs to its end
                    _note_unjudged(self.pattern, n)
                    return UNJUDGED
                m = rx.search(text, pos, end)
                if m is not None and kept(m, pos, end, last):
                    return m
            return None
        finally:
            budget.charge(_clock() - started)
