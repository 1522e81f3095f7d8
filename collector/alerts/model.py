"""The alert: what was broken, by whom, how far, and where to look — masked values only."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from contract.masking import mask_obj

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
RAISED, UPDATED = "alert.raised", "alert.updated"
SILENCE_RULE = "agent_silenced"
STOP_RULE = "stopped_in_shift"


@dataclass
class Reason:
    feature: str
    value: float
    threshold: float
    text: str
    text_zh: str


@dataclass
class Alert:
    """One alert. ``key`` deduplicates: one alert per agent, rule and day (or per silence)."""

    key: str
    rule: str
    severity: str
    agent_id: str
    team: str
    day: str
    seq: int
    title: str
    title_zh: str
    value: float
    threshold: float
    reasons: list[Reason]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    raised_at: float = 0.0
    updated_at: float = 0.0
    repeats: int = 0
    id: int | None = None
    state: str = "open"
    acked_by: str | None = None
    acked_at: float | None = None
    ack_note: str | None = None
    suppressed: str | None = None

    @property
    def link(self) -> str:
        return timeline_link(self.agent_id, self.day, self.seq)

    def to_dict(self, base_url: str = "") -> dict[str, Any]:
        """The alert as JSON: every text masked; quantities (seq, value, threshold, counts) stay numbers."""
        out = asdict(self)
        out["date"] = out.pop("day")
        out["link"] = base_url.rstrip("/") + self.link
        for name in ("raised_at", "updated_at", "acked_at"):
            out[name] = rfc3339(out[name]) if out[name] else None
        numbers = {name: out.pop(name) for name in _NUMBERS}
        reasons = [{**mask_obj({k: v for k, v in r.items() if k not in _REASON_NUMBERS}),
                    **{k: _number(r[k]) for k in _REASON_NUMBERS}} for r in out.pop("reasons")]
        evidence = [{**mask_obj({k: v for k, v in e.items() if k != "seq"}), "seq": _seq(e.get("seq"))}
                    for e in out.pop("evidence") if isinstance(e, dict)]
        masked = dict(mask_obj(out))
        masked.update(seq=_seq(numbers["seq"]), value=_number(numbers["value"]),
                      threshold=_number(numbers["threshold"]), repeats=_seq(numbers["repeats"]),
                      id=numbers["id"], reasons=reasons, evidence=evidence)
        return masked

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        """Inverse of :meth:`to_dict` (times come back as epoch seconds). Tolerant of bodies stored by
        older releases, which masked a phone-shaped ``seq`` into a string: such a number reads as 0."""
        values = {k: v for k, v in data.items() if k not in ("link", "date")}
        values["day"] = data["date"]
        values["reasons"] = [Reason(**{**r, **{k: _number(r.get(k)) for k in _REASON_NUMBERS}})
                             for r in data.get("reasons", [])]
        values["evidence"] = [{**e, "seq": _seq(e.get("seq"))} for e in data.get("evidence", [])
                              if isinstance(e, dict)]
        values.update(seq=_seq(data.get("seq")), value=_number(data.get("value")),
                      threshold=_number(data.get("threshold")), repeats=_seq(data.get("repeats")))
        for name in ("raised_at", "updated_at", "acked_at"):
            values[name] = epoch(values[name]) if values.get(name) else (None if name == "acked_at" else 0.0)
        return cls(**values)


_NUMBERS = ("seq", "value", "threshold", "repeats", "id")
_REASON_NUMBERS = ("value", "threshold")
MAX_SEQ = 10**10 - 1  # the schema's bound: an event seq never has the 11+ digits of a personal number


def _seq(value: Any) -> int:
    """An event seq or a count as a plain int in [0, MAX_SEQ]; anything else (a masked string) is 0."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEQ:
        return value
    return 0


def _number(value: Any) -> float:
    """A feature value or threshold as a finite float, saturated at +-MAX_SEQ (so it never spells a
    personal number); anything else (a masked string, NaN) is 0.0."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(max(-MAX_SEQ, min(MAX_SEQ, value)))
    return 0.0


def timeline_link(agent_id: str, day: str, seq: int) -> str:
    return f"/agents/{quote(agent_id, safe='')}/timeline?date={day}#seq-{_seq(seq)}"


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
