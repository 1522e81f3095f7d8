"""Bounded rollup state that still counts everything: what a day's rollup does at one of its bounds.

A :class:`~detectors.rollup.DayRollup` keeps order-independent lists (sensitive copies, switches to
flagged apps, customer pages, idle and case spans) so that events may arrive in any order. A list
that reaches its bound is *settled*, never closed: items whose outcome is already known are folded
into exact totals (counters, minute bitmaps, a histogram) and dropped, so the list has room again and
every later event still counts. Events arrive in order from an agent's uploader, and then settling
changes no number.

Reaching a bound is itself recorded (:func:`hit`): it becomes the ``rollup_bound_hits`` feature, the
``rollup_bound`` rule and a ``rollup_bound`` evidence moment, because an ordinary working day comes
nowhere near any of them.
"""

from __future__ import annotations

import bisect
from typing import Any

# Bounds that keep a rollup's state small whatever happens during the day (see the module docstring).
MAX_SPANS = 2000          # idle spans, case spans, open cases
MAX_MOMENTS = 1000        # sensitive copies, switches to off-list apps
MAX_PAGES = 3000          # customer pages without a case number, awaiting their case spans
MAX_CUSTOMERS = 5000      # distinct customers (hashed); the count saturates there
MAX_APPS = 200            # distinct app names remembered by name; further ones by class only
MAX_EVIDENCE_PER_KIND = 15  # evidence moments kept per kind

BOUND_NAMES: dict[str, tuple[str, str]] = {
    "copies": ("sensitive copies", "敏感复制"),
    "switches": ("switches to flagged apps", "切换到受关注应用"),
    "pages": ("customer pages without a case number", "不含案件号的客户页面"),
    "customers": ("distinct customers", "不同客户"),
    "apps": ("distinct apps", "不同应用"),
    "process_names": ("flagged process names", "受关注进程名"),
    "idle": ("idle periods", "空闲时段"),
    "cases": ("closed cases", "已结案件"),
    "open_cases": ("open cases", "打开的案件"),
}
BITMAPS = ("present", "idle_mask", "case_mask")  # ints in memory, hex strings in the stored state


def defaults() -> dict[str, Any]:
    """State keys added after version 1 states were first written (filled in by :func:`upgrade`)."""
    return {"bounds": {}, "settled": {"offlist": 0, "ids_msg": 0, "nocase": 0}, "pair_ev": [],
            "nocase_ev": [], "idle_mask": 0, "case_mask": 0, "handle_hist": {}, "horizon": 0}


def upgrade(state: dict[str, Any]) -> None:
    """Give a state stored before these keys existed the same meaning in the current layout."""
    for key, value in defaults().items():
        state.setdefault(key, value)
    for key in ("starts", "stops"):  # once capped lists in arrival order, now sorted distinct minutes
        state[key] = sorted({int(m) for m in state[key]})
    old = state.pop("handles", None)
    if isinstance(old, list):
        for wall in old:
            add_handle(state["handle_hist"], float(wall))


def bits(lo: int, hi: int) -> int:
    """Bit mask for minutes lo <= m < hi."""
    return ((1 << (hi - lo)) - 1) << lo if hi > lo else 0


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def hit(state: dict[str, Any], name: str, sec: float, seq: int) -> None:
    """Record that bound ``name`` was reached by the event at ``sec``/``seq`` (first moment kept)."""
    rec = state["bounds"].get(name)
    if rec is None:
        state["bounds"][name] = [int(sec), int(seq), 1]
        return
    rec[2] += 1
    if (int(sec), int(seq)) < (rec[0], rec[1]):
        rec[0], rec[1] = int(sec), int(seq)


def moments(state: dict[str, Any]) -> list[tuple[str, float, int, dict[str, Any]]]:
    """One evidence moment per bound reached: when it was first reached, and how often."""
    return [("rollup_bound", float(sec), int(seq), {"bound": name, "hits": n})
            for name, (sec, seq, n) in sorted(state["bounds"].items())]


def keep_top(items: list[Any], item: Any, key: Any, cap: int = MAX_EVIDENCE_PER_KIND) -> None:
    """Keep the ``cap`` items with the smallest ``key`` (whatever the order they come in)."""
    items.append(item)
    if len(items) > cap:
        items.sort(key=key)
        del items[cap:]


# ---------------------------------------------------------------------- handling times
def handle_bucket(wall: float) -> int:
    """Handling time rounded for the histogram: exact to 10 min, 5 s to 1 h, 1 min beyond."""
    v = max(0, int(round(wall)))
    if v < 600:
        return v
    step = 5 if v < 3600 else 60
    return int(round(v / step) * step)


def add_handle(hist: dict[str, int], wall: float) -> None:
    key = str(handle_bucket(wall))
    hist[key] = hist.get(key, 0) + 1


def hist_median(hist: dict[str, int]) -> float:
    """Median of a handling-time histogram (0.0 when empty)."""
    values = sorted((int(k), n) for k, n in hist.items() if n > 0)
    total = sum(n for _, n in values)
    if not total:
        return 0.0

    def nth(rank: int) -> int:
        seen = 0
        for value, n in values:
            seen += n
            if seen > rank:
                return value
        return values[-1][0]

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


# ---------------------------------------------------------------------- idle periods
def open_idle_bits(start_s: int, present: int, n_min: int) -> int:
    """An idle period with no ``input.active`` after it: idle while the PC keeps reporting."""
    out = 0
    m = max(0, ceil_div(start_s, 60))
    while m < n_min and (present >> m) & 1:
        out |= 1 << m
        m += 1
    return out


def span_idle_bits(spans: list[list[int]], n_min: int) -> int:
    out = 0
    for a, b in spans:
        out |= bits(max(0, ceil_div(a, 60)), min(n_min, b // 60))
    return out


def open_starts(starts: list[int], spans: list[list[int]]) -> list[int]:
    """Idle starts that no ``input.active`` ended before the next idle start."""
    ends = sorted(b for _, b in spans)
    ordered = sorted(starts)
    out = []
    for k, a in enumerate(ordered):
        following = ordered[k + 1] if k + 1 < len(ordered) else 1 << 40
        pos = bisect.bisect_left(ends, a)
        if not (pos < len(ends) and ends[pos] <= following):
            out.append(a)
    return out


def settle_idle(state: dict[str, Any], n_min: int) -> None:
    """Fold the idle spans into the idle bitmap; keep only idle periods still open."""
    state["idle_mask"] |= span_idle_bits(state["idle_spans"], n_min)
    still_open = open_starts(state["idle_starts"], state["idle_spans"])
    state["idle_spans"] = []
    if len(still_open) >= MAX_SPANS // 2:  # idle after idle with no input between: fold the older half
        half = len(still_open) // 2
        for a in still_open[:half]:
            state["idle_mask"] |= open_idle_bits(a, state["present"], n_min)
        still_open = still_open[half:]
    state["idle_starts"] = still_open


# ---------------------------------------------------------------------- cases
def settle_cases(state: dict[str, Any], n_min: int) -> None:
    """Fold closed cases' spans into the case bitmap; forget open cases that have closed."""
    for a, b in state["case_spans"]:
        state["case_mask"] |= bits(max(0, a // 60), min(n_min, ceil_div(b, 60)))
    closed = set(state["closed"])
    state["open_cases"] = {k: v for k, v in state["open_cases"].items() if k not in closed}
    state["case_spans"], state["closed"] = [], []
