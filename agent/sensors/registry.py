"""Sensors by name, and :class:`SensorSet`, which builds, wires, starts and stops a set of them.

Built-in sensors register through :func:`register` exactly as an extension would (or through the
``seatguard.sensors`` entry-point group, loaded by :func:`load_entry_points`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from agent.sensors.base import BlobSink, Clock, EventSink, Sensor
from agent.sensors.cases import CaseSensor
from agent.sensors.clipboard import ClipboardSensor
from agent.sensors.devices import DeviceSensor
from agent.sensors.errors import SensorError
from agent.sensors.extension_bridge import ExtensionBridgeSensor
from agent.sensors.files import FileSensor
from agent.sensors.focus import FocusSensor
from agent.sensors.idle import IdleSensor
from agent.sensors.policy import AgentPolicy
from agent.sensors.processes import ProcessSensor
from agent.sensors.screenshots import ScreenshotSensor

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "seatguard.sensors"
SENSORS: dict[str, type[Sensor]] = {}
S = TypeVar("S", bound=type[Sensor])


def register(cls: S) -> S:
    """Make a sensor class available by its ``name`` (usable as a class decorator)."""
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name:
        raise SensorError(f"{cls.__qualname__} has no sensor name")
    existing = SENSORS.get(name)
    if existing is not None and existing is not cls:
        raise SensorError(f"sensor name {name!r} is already taken by {existing.__qualname__}")
    SENSORS[name] = cls
    return cls


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Register sensors that installed packages declare in the entry-point group; returns their names."""
    from importlib.metadata import entry_points  # only when asked: it costs start-up time and memory

    names = []
    for ep in entry_points(group=group):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Sensor)):
            raise SensorError(f"entry point {ep.name!r} is not a Sensor class")
        register(cls)
        names.append(cls.name)
    return names


for _builtin in (FocusSensor, IdleSensor, ClipboardSensor, CaseSensor, FileSensor, DeviceSensor,
                 ProcessSensor, ScreenshotSensor, ExtensionBridgeSensor):
    register(_builtin)
BUILTIN_SENSORS = tuple(SENSORS)


class _Fanout:
    """Passes each event to the real sink, then to the sensors that observe its kind."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink
        self._observers: dict[str, list[Sensor]] = {}
        self.observer_errors = 0

    def watch(self, sensor: Sensor) -> None:
        for kind in sensor.observes:
            self._observers.setdefault(kind, []).append(sensor)

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None:
        self._sink.emit(kind, fields, ts)
        if ts is None:
            return
        for sensor in self._observers.get(kind, ()):
            try:
                sensor.observe(kind, fields, ts)
            except Exception:  # one observer's bug must not lose the event for the others; logged
                self.observer_errors += 1
                logger.exception("sensor %s failed to observe %s", sensor.name, kind)


class _BlobFanout(_Fanout):
    def __init__(self, sink: BlobSink) -> None:
        super().__init__(sink)
        self._blob_sink = sink

    def emit_blob(self, blob_id: str, data: bytes) -> None:
        self._blob_sink.emit_blob(blob_id, data)


class SensorSet:
    """The sensors an agent runs, wired so that each can observe the others' events.

    ``options`` passes extra keyword arguments to one sensor's constructor (e.g. a test's fake
    desktop). Sensors that observe start first and stop last, so they see everything the others emit.
    """

    def __init__(self, sink: EventSink, policy: AgentPolicy, *, names: Iterable[str] | None = None,
                 clock: Clock | None = None, home: Path | None = None,
                 options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        chosen = list(names) if names is not None else list(SENSORS)
        unknown = [n for n in chosen if n not in SENSORS]
        if unknown:
            raise SensorError(f"unknown sensor(s): {', '.join(unknown)}; known: {', '.join(SENSORS)}")
        self.fanout = _BlobFanout(sink) if isinstance(sink, BlobSink) else _Fanout(sink)
        opts = options or {}
        self.sensors: list[Sensor] = [
            SENSORS[n](self.fanout, policy, clock, home=home, **dict(opts.get(n, {}))) for n in chosen]
        for sensor in self.sensors:
            self.fanout.watch(sensor)
        self._started: list[Sensor] = []

    def __getitem__(self, name: str) -> Sensor:
        for sensor in self.sensors:
            if sensor.name == name:
                return sensor
        raise KeyError(name)

    def ordered(self) -> list[Sensor]:
        """Start order: sensors that observe others first (stop in the reverse order)."""
        return sorted(self.sensors, key=lambda s: 0 if s.observes else 1)

    def start(self) -> None:
        for sensor in self.ordered():
            sensor.start()
            self._started.append(sensor)

    def stop(self) -> None:
        while self._started:
            sensor = self._started.pop()
            try:
                sensor.stop()
            except SensorError as exc:
                logger.warning("sensor %s did not stop cleanly: %s", sensor.name, exc)

    def status(self) -> dict[str, dict[str, Any]]:
        return {sensor.name: sensor.status() for sensor in self.sensors}
