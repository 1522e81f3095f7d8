"""The agent's gaps during the shift: silences, stops, quick restarts and the admin's uninstall.

After the agent first reported on a day, every run of shift minutes with no event at all is a gap.
A gap is *stopped* when the last minute heard before it holds a clean ``agent.stop``, and *silent*
otherwise (heartbeats just ended: a crash, a kill, a pulled cable, a PC cut off). Both are evidence,
except:

- a stopped gap of at most ``stop_grace_min`` minutes: a reboot or an update with a quick restart,
  or the end of the shift (the gap runs into the shift's end); a silent gap shorter than
  ``silence_min_gap_min`` minutes is noise;
- the admin's uninstall: once the admin retired the agent on the collector
  (``seatguard-collector revoke``), nothing after the retirement counts, and neither does the gap that
  ends the agent's day when it began at most ``retire_grace_min`` minutes before the retirement.
  The ``reason`` of an ``agent.stop`` is written by the PC, whose user can run the agent's own code,
  so it exempts nothing.

It also reads the day's input rhythm (:func:`rhythm`), the signs of presence without a human: an
automatic mouse mover keeps input alive all shift (no idle period, one long active run) or moves the
mouse on a timer (idle periods that come back like clockwork). Only ``input.idle`` / ``input.active``
events go into it, as the minute bitmaps the rollup already keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any


@dataclass(frozen=True)
class Gap:
    start: int       # first silent minute of the day
    end: int         # the minute after the last one
    stopped: bool    # after a clean agent.stop
    stop_minute: int  # the last minute heard before the gap

    @property
    def minutes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Presence:
    """What :func:`gaps` needs from a rollup, all in minutes of the local day."""

    present: int          # bitmap: minutes with at least one event
    shift: int            # bitmap: minutes inside the shift
    stops: frozenset[int]  # minutes holding a clean agent.stop
    n_min: int            # minutes in the day
    limit_min: int        # minutes after this one have not happened yet
    retired_min: int | None  # the admin retired the agent at this minute (None: still in service)


def gaps(p: Presence, policy: Any) -> list[Gap]:
    """The day's reportable gaps, oldest first (``policy``: a :class:`detectors.policy.Policy`)."""
    present = p.present
    if not present:
        return []
    end = min(p.n_min, p.limit_min)
    if p.retired_min is not None:
        end = min(end, max(0, p.retired_min))
    out = []
    m = (present & -present).bit_length() - 1
    while m < end:
        if (present >> m) & 1 or not (p.shift >> m) & 1:
            m += 1
            continue
        start = m
        while m < end and not (present >> m) & 1 and (p.shift >> m) & 1:
            m += 1
        heard = (present & ((1 << start) - 1)).bit_length() - 1
        gap = Gap(start, m, heard in p.stops, heard)
        if _reportable(gap, p, policy):
            out.append(gap)
    return out


def _reportable(gap: Gap, p: Presence, policy: Any) -> bool:
    if gap.stopped and gap.minutes <= policy.stop_grace_min:
        return False  # a reboot with a quick restart, or the end of the shift
    if not gap.stopped and gap.minutes < policy.silence_min_gap_min:
        return False
    # the day's last gap, just before the admin retired the agent, is the uninstall
    uninstall = p.retired_min is not None and not p.present >> gap.end \
        and p.retired_min - gap.start <= policy.retire_grace_min
    return not uninstall


def retired_minute(retired_at: float | None, t0: float) -> int | None:
    """The minute of the day (from midnight at ``t0``) at which the agent was retired, if it was."""
    if retired_at is None:
        return None
    return int((float(retired_at) - t0) // 60)


def shift_started(start: str, local: datetime) -> datetime:
    """The latest local moment at ``start`` (HH:MM) not after ``local``: when the current shift began."""
    begin = datetime.combine(local.date(), time(int(start[:2]), int(start[3:])), local.tzinfo)
    return begin if begin <= local else begin - timedelta(days=1)


def shift_on(start: str, end: str, minute: int) -> bool:
    """Is ``minute`` (of the local day) inside the shift? Same convention as the rollups: equal ends
    mean all day, and a shift may run over midnight."""
    a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (start, end))
    if a == b:
        return True
    return a <= minute < b if a < b else (minute >= a or minute < b)


def stopped_in_shift(shift: tuple[str, str], shift_grace_min: int, stop_grace_min: int, stopped_at: datetime,
                     local: datetime) -> bool:
    """Is an agent whose last word was a clean stop at ``stopped_at`` stopped in its shift at ``local``?
    Not when the shift is off, the stop came before this shift (and its grace), or the stop is at most
    ``stop_grace_min`` (+1, whole minutes) old: it may still be a reboot or the end of the shift."""
    if not shift_on(shift[0], shift[1], local.hour * 60 + local.minute):
        return False
    if stopped_at < shift_started(shift[0], local) - timedelta(minutes=shift_grace_min):
        return False
    return (local - stopped_at).total_seconds() >= (stop_grace_min + 1) * 60


# ---------------------------------------------------------------------- presence without a human
REGULAR_MIN_PERIODS = 12  # idle periods before the idle/active cycle's regularity means anything
MACHINE_CV = 0.25  # variation below which pauses are a machine's: a person's, a course's or a meeting's vary more


def runs(mask: int) -> list[tuple[int, int]]:
    """The runs of set bits of ``mask`` as (first, after-last) bit positions, lowest first."""
    out = []
    while mask:
        start = (mask & -mask).bit_length() - 1
        shifted = mask >> start
        length = (~shifted & (shifted + 1)).bit_length() - 1  # trailing ones
        out.append((start, start + length))
        mask &= ~(((1 << length) - 1) << start)
    return out


def bridge(present: int, short: int) -> int:
    """``present`` with its inner absences shorter than ``short`` minutes filled in (a heartbeat that
    fell into the next minute is not an absence)."""
    filled = present
    spans = runs(present)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start - end < short:
            filled |= ((1 << (start - end)) - 1) << end
    return filled


def _cv(values: list[int]) -> float:
    mean = sum(values) / len(values)
    if mean <= 0:
        return 1.0
    return float((sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 / mean)


@dataclass(frozen=True)
class InputRhythm:
    """How a human's input looks over a day: pauses come and go at irregular times."""

    idle_periods: int         # idle periods (runs of idle minutes)
    longest_active_min: int   # longest run of present, non-idle minutes (short absences bridged)
    regularity: float         # 1 - the larger coefficient of variation of cycles and lengths / MACHINE_CV


def rhythm(present: int, idle: int, short_gap_min: int) -> InputRhythm:
    """The day's input rhythm from its minute bitmaps (``idle`` within ``present``).

    Regularity needs :data:`REGULAR_MIN_PERIODS` idle periods: then the time from one idle period's
    start to the next (the cycle) and the idle periods' lengths must both be steady, their coefficient
    of variation under :data:`MACHINE_CV`, for it to rise above 0 (1: exactly periodic), as they are
    when a timer moves the mouse; a person's pauses, a course's slides and a meeting's vary more (0).
    """
    idle_runs = runs(idle & present)
    busy = bridge(present, short_gap_min) & ~idle
    longest = max((b - a for a, b in runs(busy)), default=0)
    regularity = 0.0
    if len(idle_runs) >= REGULAR_MIN_PERIODS:
        cycles = [b[0] - a[0] for a, b in zip(idle_runs, idle_runs[1:], strict=False)]
        lengths = [b - a for a, b in idle_runs]
        regularity = max(0.0, 1.0 - max(_cv(cycles), _cv(lengths)) / MACHINE_CV)
    return InputRhythm(len(idle_runs), longest, regularity)
