"""The entry point the runner uses: ``build_sensors(sink, policy) -> [sensor, ...]``.

The list is in start order (sensors that observe others first); stop them in reverse order so that
the observers see everything the others emit on the way down. A policy the sensors cannot use is
logged and replaced by the defaults rather than leaving the PC unwatched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.sensors.base import EventSink, Sensor
from agent.sensors.errors import PolicyError
from agent.sensors.policy import AgentPolicy
from agent.sensors.registry import SensorSet

logger = logging.getLogger(__name__)


def policy_from(data: Mapping[str, Any] | AgentPolicy) -> AgentPolicy:
    if isinstance(data, AgentPolicy):
        return data
    try:
        return AgentPolicy.from_dict(data)
    except PolicyError as exc:
        logger.error("policy refused, sensors run with the default policy: %s", exc)
        return AgentPolicy()


def build_sensors(sink: EventSink, policy: Mapping[str, Any] | AgentPolicy, *, home: Path | None = None,
                  names: Iterable[str] | None = None) -> list[Sensor]:
    """Every registered sensor (or those named), wired to observe each other, in start order."""
    sensors = SensorSet(sink, policy_from(policy), names=names, home=home)
    return sensors.ordered()
