"""The policy the collector hands to every agent, as the sensors use it.

The keys, their meaning, defaults and checks are the contract's (:mod:`contract.policy`): the
collector validates a save with that table and the detectors read the same parsed object.
:class:`AgentPolicy` is that policy plus the questions only the sensors ask; ``from_dict`` raises the
sensors' :class:`agent.sensors.errors.PolicyError` for a malformed policy.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.sensors.errors import PolicyError
from contract import policy as contract_policy
from contract.policy import PROCESS_CATEGORIES, SCREENSHOT_TRIGGERS, Policy, settings_table

logger = logging.getLogger(__name__)

__all__ = ["PROCESS_CATEGORIES", "SCREENSHOT_TRIGGERS", "AgentPolicy", "glob_any", "settings_table"]


@dataclass(frozen=True)
class AgentPolicy(Policy):
    """What the sensors look for and how eagerly; built once from the collector's policy JSON."""

    def __post_init__(self) -> None:
        try:
            super().__post_init__()
        except contract_policy.PolicyError as exc:
            raise PolicyError(str(exc)) from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentPolicy:
        """Build from decoded JSON; keys this release does not know (a newer collector's) are logged
        at info level and ignored."""
        try:
            return cls.parse(data)
        except contract_policy.PolicyError as exc:
            raise PolicyError(str(exc)) from exc

    def is_allowed_site(self, url: str) -> bool:
        return self.is_allowed_host(urlsplit(url).hostname or "") if self.allowed_sites else True

    def watched_paths(self) -> list[Path]:
        return [Path(p).expanduser() for p in self.watched_folders]


def glob_any(patterns: Iterable[str], value: str) -> bool:
    """Case-insensitive shell-glob match of ``value`` against any pattern."""
    low = value.lower()
    return any(fnmatch.fnmatchcase(low, p.lower()) for p in patterns)
