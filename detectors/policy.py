"""The policy as the detectors read it: the contract's one table (:mod:`contract.policy`).

:class:`Policy` is :class:`contract.policy.Policy` (the same keys, meanings, defaults and checks that
the collector validates a save with and the agents' sensors read), raising the detectors'
:class:`detectors.errors.InvalidInput` for a malformed policy. Its patterns are compiled once, in the
policy object; the rollups ask it (``category_of``, ``is_allowed_app``, ``is_allowed_host``,
``customer_res`` ...) instead of reading the lists themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract import policy as contract_policy
from detectors.errors import InvalidInput

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")  # a local clock time, as the policy and shifts write it


@dataclass(frozen=True)
class Policy(contract_policy.Policy):
    """The collector's policy, validated by the contract's table."""

    def __post_init__(self) -> None:
        try:
            super().__post_init__()
        except contract_policy.PolicyError as exc:
            raise InvalidInput(str(exc)) from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Policy:
        """The policy from decoded JSON; absent keys take the table's defaults, unknown keys are skipped."""
        try:
            return cls.parse(data)
        except contract_policy.PolicyError as exc:
            raise InvalidInput(str(exc)) from exc


def policy_markdown() -> str:
    """The policy keys as Markdown (the contract's table, README section ``policy-keys``)."""
    return contract_policy.markdown()
