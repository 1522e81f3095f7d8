"""The endpoint agent's sensors: what happens at the seat, as schema-v1 events.

Use :class:`SensorSet` to run them (see :mod:`agent.sensors.registry`); write a new sensor by
subclassing :class:`Sensor` (or :class:`PollingSensor`) and passing it to :func:`register`.
"""

from __future__ import annotations

from agent.sensors.base import BlobSink, Clock, DesktopSensor, EventSink, PollingSensor, Sensor, SystemClock
from agent.sensors.errors import BridgeError, PolicyError, SensorError, SensorUnavailable
from agent.sensors.policy import AgentPolicy
from agent.sensors.registry import BUILTIN_SENSORS, SENSORS, SensorSet, load_entry_points, register

__all__ = [
    "BUILTIN_SENSORS",
    "SENSORS",
    "AgentPolicy",
    "BlobSink",
    "BridgeError",
    "Clock",
    "DesktopSensor",
    "EventSink",
    "PolicyError",
    "PollingSensor",
    "Sensor",
    "SensorError",
    "SensorSet",
    "SensorUnavailable",
    "SystemClock",
    "load_entry_points",
    "register",
]
