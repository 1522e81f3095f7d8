"""Time outside the shift, judged by what happens in it (issue 15 item 4).

Outside the day's shift (the agent's usual one, or the one entered for that day, plus any scheduled
overtime, widened by the policy's ``shift_grace_min``) two different things happen:

- **overtime**: casework at the agent's usual pace. The day's own pace inside the shift (the share
  of active minutes with a case open) says how much outside time a given amount of casework accounts
  for; those minutes are not counted as outside the shift. ``outside_shift_min`` and ``night_min``
  count only what casework at that pace does not account for, and ``first_activity`` /
  ``last_activity`` (how far before the shift start or after its end the agent was active) shrink by
  the share of that side's outside time that casework accounts for: overtime moves the day's edges.
- **snooping**: customer data handled with no case to need it: customer pages opened without a case,
  copies of customer data and removable-drive writes. ``outside_shift_lookups`` counts them.

The rollup keeps, per minute of the day, how many copies of customer data, removable writes and
settled caseless pages it saw (``copy_min``, ``export_min``, ``nocase_min``; minute -> count, at most
one key per minute), so that a shift entered or edited after the fact is applied exactly when the
features are computed again (see :mod:`collector.rollups`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from detectors.bounds import bits

MIN_PACE_ACTIVE = 60  # in-shift active minutes needed before the day's own pace is trusted
PACE_FLOOR = 0.25     # one open-case minute never accounts for more than four outside minutes
MINUTE_KEYS = ("copy_min", "export_min", "nocase_min")


def defaults() -> dict[str, Any]:
    """State keys of this module (older states get them empty)."""
    return {k: {} for k in MINUTE_KEYS}


def count(state: dict[str, Any], key: str, minute: int, n: int = 1) -> None:
    per = state[key]
    per[str(minute)] = int(per.get(str(minute), 0)) + n


def outside_count(per_minute: dict[str, int], graced: int) -> int:
    return sum(int(n) for m, n in per_minute.items() if not (graced >> int(m)) & 1)


def pace(active: int, graced: int, case_bits: int) -> float:
    """Share of in-shift active minutes with a case open (1.0 without enough in-shift activity: then
    only the minutes with a case open count as casework)."""
    inside = active & graced
    n = inside.bit_count()
    if n < MIN_PACE_ACTIVE:
        return 1.0
    return max(PACE_FLOOR, (inside & case_bits).bit_count() / n)


def unexplained(minutes: int, case_minutes: int, day_pace: float) -> float:
    """Outside minutes left once casework at ``day_pace`` has accounted for its share."""
    return float(max(0.0, minutes - case_minutes / day_pace))


def judged(active: int, graced: int, case_bits: int, night: int) -> tuple[float, float]:
    """(outside_shift_min, night_min): active minutes outside the graced shift, and those at night,
    that the day's casework at its in-shift pace does not account for."""
    out = active & ~graced
    day_pace = pace(active, graced, case_bits)
    at_night = out & night
    return (round(unexplained(out.bit_count(), (out & case_bits).bit_count(), day_pace)),
            round(unexplained(at_night.bit_count(), (at_night & case_bits).bit_count(), day_pace)))


def sides(start: int, end: int, grace: int, n_min: int) -> tuple[int, int]:
    """(before, after): the minutes off the graced shift nearer its start, and those nearer its end (the
    time between shifts split in the middle)."""
    length = (end - start) % 1440 or 1440
    if length + 2 * grace >= 1440 - 2:
        return 0, 0
    off_from, off_to = end + grace, start - grace
    middle = off_from + ((off_to - off_from) % 1440) // 2
    return window_bits(middle, off_to, n_min), window_bits(off_from, middle, n_min)


def explained_share(side: int, active: int, graced: int, case_bits: int, day_pace: float) -> float:
    """Share of the active minutes on one side, outside the graced shift, that casework accounts for."""
    out = active & side & ~graced
    n = out.bit_count()
    return min(1.0, (out & case_bits).bit_count() / day_pace / n) if n else 0.0


def edges(first_vs: float, last_vs: float, before: float, after: float) -> tuple[float, float]:
    """first_activity and last_activity with the overtime share of each side taken off."""
    first = first_vs * (1.0 - before) if first_vs < 0 else first_vs
    last = last_vs * (1.0 - after) if last_vs > 0 else last_vs
    return float(round(first)), float(round(last))


def lookups(state: dict[str, Any], graced: int, caseless_pages: Iterable[list[Any]]) -> float:
    """Customer pages without a case, customer-data copies and removable writes outside the shift."""
    pages = sum(1 for p in caseless_pages if not (graced >> (int(p[0]) // 60)) & 1)
    return float(pages + sum(outside_count(state[k], graced) for k in MINUTE_KEYS))


def window_bits(start: int, end: int, n_min: int) -> int:
    """Minutes [start, end) of a day of ``n_min`` minutes; a window over midnight wraps; start == end:
    the whole day."""
    start, end = start % 1440, end % 1440
    if start == end:
        return bits(0, n_min)
    if start < end:
        return bits(start, min(end, n_min))
    return bits(0, end) | bits(start, n_min)


def extended(start: int, end: int, extra: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The shift's (start, end) widened by overtime windows that touch or overlap it."""
    def inside(m: int, a: int, b: int) -> bool:
        return (m - a) % 1440 <= (b - a) % 1440

    for _ in range(2):  # a window may touch the shift only once another one widened it
        for a, b in extra:
            if inside(a, start, end) and not inside(b, start, end):
                end = b
            if inside(b, start, end) and not inside(a, start, end):
                start = a
    return start, end
