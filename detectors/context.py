"""Who an agent is for one day's rollup and the comparison with peers: :class:`AgentContext`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from detectors.errors import InvalidInput
from detectors.policy import HHMM, Policy

ROLES = ("agent", "lead")


@dataclass(frozen=True)
class AgentContext:
    """Who the agent is for the purpose of one day's rollup and comparison with peers."""

    agent_id: str
    team: str
    role: str = "agent"
    shift_start: str = "09:00"
    shift_end: str = "18:00"
    tz: str = "Asia/Shanghai"
    policy: Policy = field(default_factory=Policy)
    retired_at: float | None = None  # when the admin retired (revoked) the agent, epoch seconds
    overtime: tuple[tuple[str, str], ...] = ()  # scheduled overtime windows (HH:MM, HH:MM): in the shift

    def __post_init__(self) -> None:
        if not isinstance(self.agent_id, str) or not re.match(r"^[A-Za-z0-9._-]{1,64}$", self.agent_id):
            raise InvalidInput("context: agent_id must match [A-Za-z0-9._-]{1,64}")
        if not isinstance(self.team, str) or not self.team:
            raise InvalidInput("context: team must be a non-empty string")
        if self.role not in ROLES:
            raise InvalidInput(f"context: role must be one of {', '.join(ROLES)}")
        for name in ("shift_start", "shift_end"):
            if not isinstance(getattr(self, name), str) or not HHMM.match(getattr(self, name)):
                raise InvalidInput(f"context: {name} must be HH:MM")
        if not isinstance(self.overtime, tuple) or not all(
                isinstance(w, tuple) and len(w) == 2 and all(isinstance(x, str) and HHMM.match(x) for x in w)
                for w in self.overtime):
            raise InvalidInput("context: overtime must be (HH:MM, HH:MM) windows")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"context: unknown time zone {self.tz!r}") from exc
        if not isinstance(self.policy, Policy):
            raise InvalidInput("context: policy must be a Policy")
        if self.retired_at is not None and (isinstance(self.retired_at, bool)
                                            or not isinstance(self.retired_at, int | float)):
            raise InvalidInput("context: retired_at must be epoch seconds")
