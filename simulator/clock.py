"""Simulated wall-clock time: integer milliseconds on the call center's local clock (Asia/Shanghai).

Times are counted from local midnight of day one of the proleptic calendar, so a calendar date and a
time of day combine with plain integer arithmetic and formatting never needs a time-zone database.
Asia/Shanghai has had no daylight saving since 1991, so the offset is always +08:00.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

TZ_NAME = "Asia/Shanghai"
OFFSET = "+08:00"
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def midnight(day: date) -> int:
    """Local milliseconds at 00:00 of ``day``."""
    return day.toordinal() * DAY


def clock(text: str) -> int:
    """Milliseconds after midnight of a ``HH:MM`` time of day."""
    hours, _, minutes = text.partition(":")
    return int(hours) * HOUR + int(minutes) * MINUTE


@lru_cache(maxsize=4096)
def _minute_prefix(minute: int) -> str:
    days, rest = divmod(minute, DAY // MINUTE)
    return f"{date.fromordinal(days).isoformat()}T{rest // 60:02d}:{rest % 60:02d}:"


def format_ts(moment: int) -> str:
    """RFC 3339 with millisecond precision and the +08:00 offset."""
    minute, rest = divmod(moment, MINUTE)
    return f"{_minute_prefix(minute)}{rest // SECOND:02d}.{rest % SECOND:03d}{OFFSET}"


def time_of_day(moment: int) -> str:
    """``HH:MM:SS`` of a moment, for ground-truth details."""
    return format_ts(moment)[11:19]


def date_of(moment: int) -> date:
    return date.fromordinal(moment // DAY)


def today() -> date:
    """Today's calendar date in the call center's time zone (the only wall-clock read)."""
    return datetime.now(ZoneInfo(TZ_NAME)).date()
