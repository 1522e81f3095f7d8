"""The alert: what was broken, by whom, how far, and where to look — masked values only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from agent.masking import mask_obj

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
RAISED, UPDATED = "alert.raised", "alert.updated"
SILENCE_RULE = "agent_silenced"


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
        out = asdict(self)
        out["date"] = out.pop("day")
        out["link"] = base_url.rstrip("/") + self.link
        for name in ("raised_at", "updated_at", "acked_at"):
            out[name] = rfc3339(out[name]) if out[name] else None
        return dict(mask_obj(out))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        """Inverse of :meth:`to_dict` (times come back as epoch seconds)."""
        values = {k: v for k, v in data.items() if k not in ("link", "date")}
        values["day"] = data["date"]
        values["reasons"] = [Reason(**r) for r in data.get("reasons", [])]
        for name in ("raised_at", "updated_at", "acked_at"):
            values[name] = epoch(values[name]) if values.get(name) else (None if name == "acked_at" else 0.0)
        return cls(**values)


def timeline_link(agent_id: str, day: str, seq: int) -> str:
    return f"/agents/{quote(agent_id, safe='')}/timeline?date={day}#seq-{int(seq)}"


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
