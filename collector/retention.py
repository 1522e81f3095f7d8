"""Retention per event kind (privacy rule 4): the ``[retention]`` table of ``collector.toml`` and the purge's cut-offs.

``retention_days`` (a top-level setting, default 180) is the retention period of every kind, and the
longest anything is kept. ``[retention] kinds`` shortens it for some kinds, e.g.::

    [retention.kinds]
    clipboard.copy = 30
    screenshot = 14

A kind named there must be one of the kind catalog (:mod:`contract.kinds`), and its period may not
exceed ``retention_days``: a kind kept longer than the default would outlive the rollups, reports and
shifts derived from it (they are kept for ``retention_days``), and the monitoring notice promises the
default as the longest. Both are refused when the collector starts.

What follows each period:

- events of a kind: the kind's period (by calendar day in the collector's zone);
- screenshots (the sealed blobs): the period of the ``screenshot`` kind, whose events name them;
- everything kept per agent-day or per record (rollups, shifts, reports, quarantine, integrity
  records, alerts, job runs): ``retention_days``. Quarantined rows keep the default because their
  kind may be unknown or forged.

A legal hold (:mod:`collector.holds`) suspends all of it for one agent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collector.errors import ConfigError
from contract.kinds import KIND_NAMES
from contract.settings_table import check_rows, setting, toml_value


def _flat(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{clipboard: {copy: 30}}`` (TOML's reading of ``clipboard.copy = 30``) -> ``{"clipboard.copy": 30}``."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


def _kind_days(raw: Any) -> tuple[tuple[str, int], ...]:
    if isinstance(raw, str):
        raw = toml_value(raw)
    if isinstance(raw, tuple):
        raw = dict(raw)
    if not isinstance(raw, Mapping):
        raise ValueError("expected a table of kind = days")
    out = []
    for name, days in sorted(_flat(raw).items()):
        if isinstance(days, bool) or not isinstance(days, int):
            raise ValueError(f"the days of {name!r} must be a whole number")
        out.append((name, days))
    return tuple(out)


def _known_kinds(value: tuple[tuple[str, int], ...]) -> str | None:
    unknown = [name for name, _ in value if name not in KIND_NAMES]
    if unknown:
        return f"names unknown kind(s) {', '.join(unknown)} (known: {', '.join(sorted(KIND_NAMES))})"
    short = [name for name, days in value if days < 1]
    return f"must keep every kind at least 1 day (not {', '.join(short)})" if short else None


@dataclass(frozen=True)
class RetentionConfig:
    """The ``[retention]`` table of ``collector.toml`` (environment ``SEATGUARD_RETENTION_<NAME>``)."""

    kinds: tuple[tuple[str, int], ...] = setting(
        (), "Retention in days per event kind, at most `retention_days` (which applies to every kind not "
            "named and may not be exceeded), e.g. `{ \"clipboard.copy\" = 30, screenshot = 14 }`; the "
            "`screenshot` kind's period also purges the sealed screenshots.", _known_kinds, parse=_kind_days)

    def __post_init__(self) -> None:
        check_rows(self, ConfigError, "")


@dataclass(frozen=True)
class Cutoffs:
    """One purge's cut-offs: records of days before ``before_day`` (or older than ``before_ts``) go, events
    of a kind in ``kind_days`` of days before its day, and nothing of an agent in ``held``."""

    before_day: str
    before_ts: float
    kind_days: Mapping[str, str] = field(default_factory=dict)
    screenshots_ts: float = 0.0
    held: frozenset[str] = frozenset()


class RetentionPeriods:
    """Each kind's period, from ``retention_days`` and ``[retention] kinds`` (checked when built)."""

    def __init__(self, default_days: int, config: RetentionConfig) -> None:
        longer = [f"{name} ({days})" for name, days in config.kinds if days > default_days]
        if longer:
            raise ConfigError(f"setting 'retention.kinds' keeps {', '.join(longer)} longer than retention_days "
                              f"({default_days}): no kind may be kept longer than the default")
        self.default_days = default_days
        self.overrides = dict(config.kinds)
        self.days = {kind: self.overrides.get(kind, default_days) for kind in sorted(KIND_NAMES)}
        self._deltas = {kind: timedelta(days=d) for kind, d in self.days.items()}

    def days_for(self, kind: str) -> int:
        return self.days.get(kind, self.default_days)

    def oldest(self, now: datetime, floor: float = -math.inf) -> dict[str, float]:
        """Per kind, the oldest moment (POSIX seconds, at least ``floor``) an event of it may be dated and
        still be kept: ingest quarantines older ones."""
        return {kind: max((now - delta).timestamp(), floor) for kind, delta in self._deltas.items()}

    def cutoffs(self, now: datetime, held: frozenset[str] = frozenset()) -> Cutoffs:
        """The purge's cut-offs at ``now`` (an aware datetime in the collector's zone)."""
        base = now - timedelta(days=self.default_days)
        kind_days = {k: (now - timedelta(days=d)).date().isoformat() for k, d in self.overrides.items()}
        shots = now - timedelta(days=self.days_for("screenshot"))
        return Cutoffs(base.date().isoformat(), base.timestamp(), kind_days, shots.timestamp(), held)

    def describe(self) -> dict[str, Any]:
        return {"default_days": self.default_days, "kinds": dict(self.overrides)}
