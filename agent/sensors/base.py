"""The contract between the sensors and whoever runs them.

A sensor is a small class registered by name (see :mod:`agent.sensors.registry`). It is built with
the sink its events go to, the policy, and a clock; ``start`` launches whatever threads or observers it
needs and returns once it is ready, ``stop`` ends them, ``status`` says what it records or why it cannot.

Sensors hand the sink only the fields of their event kind (schema v1) and the event's moment; the
runner adds schema, agent_id and seq. A sensor may also *observe* the events other sensors emit
(``observes`` lists the kinds): the cases sensor learns focus and idle that way, the screenshot sensor
its triggers. :class:`agent.sensors.registry.SensorSet` does that wiring.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from agent.sensors.errors import SensorUnavailable
from agent.sensors.platform import Desktop, open_desktop
from agent.sensors.policy import AgentPolicy

logger = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where events go: the runner's spool writer, a list in tests, nothing in the benchmark."""

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None: ...


@runtime_checkable
class BlobSink(Protocol):
    """A sink that can also keep binary blobs (screenshots), sealed like batches by the runner."""

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None: ...

    def emit_blob(self, blob_id: str, data: bytes) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Sensor(ABC):
    """One source of events. Subclasses set ``name`` and implement start/stop."""

    name: ClassVar[str]
    observes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None) -> None:
        self.sink = sink
        self.policy = policy
        self.clock: Clock = clock or SystemClock()
        self.home = home
        self.emitted = 0
        self.errors = 0
        self._why: str | None = None

    @abstractmethod
    def start(self) -> None:
        """Start observing; returns once the sensor is ready (or known to be unavailable)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop observing and release OS resources; safe to call twice."""

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"available": self._why is None, "emitted": self.emitted, "errors": self.errors}
        if self._why is not None:
            out["why"] = self._why
        return out

    def observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> None:  # noqa: B027 - optional hook
        """Called with every event of a kind in ``observes``, from the emitting thread; keep it quick."""

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None:
        self.sink.emit(kind, fields, ts if ts is not None else self.clock.now())
        self.emitted += 1

    def unavailable(self, why: str) -> None:
        """Record (and log once) that this sensor cannot work here."""
        if self._why != why:
            logger.warning("sensor %s unavailable: %s", self.name, why)
        self._why = why


class PollingSensor(Sensor):
    """A sensor driven by one thread calling :meth:`poll` every :meth:`interval` seconds.

    :meth:`setup` runs on that thread before the first poll (OS handles are opened where they are
    used); ``start`` waits for it. Tests may call :meth:`poll` directly instead of starting the thread.
    """

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._stop_event = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def interval(self) -> float:
        return 1.0

    def setup(self) -> None:
        """Open what poll needs; raise SensorUnavailable when it cannot work here."""

    def teardown(self) -> None:
        """Release what setup opened (on the sensor thread)."""

    @abstractmethod
    def poll(self) -> None: ...

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop_event.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name=f"sensor-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(15.0):
            logger.warning("sensor %s: still setting up after 15 s", self.name)

    def stop(self) -> None:
        self._stop_event.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10.0)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["running"] = self._thread is not None and self._thread.is_alive()
        return out

    def _run(self) -> None:
        try:
            self.setup()
        except SensorUnavailable as exc:
            self.unavailable(exc.why)
            self.teardown()  # release whatever setup opened before it gave up
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop_event.is_set():
                self._poll_guarded()
                self._stop_event.wait(self.interval())
        finally:
            self.teardown()

    def _poll_guarded(self) -> None:
        try:
            self.poll()
        except SensorUnavailable as exc:
            self.unavailable(exc.why)
            self._stop_event.set()
        except Exception:  # a sensor must outlive one bad poll; the error is logged and counted
            self.errors += 1
            logger.exception("sensor %s: poll failed", self.name)


class DesktopSensor(PollingSensor):
    """A polling sensor that needs the OS desktop layer (focus, idle, clipboard).

    ``desktop`` builds the layer (default: the one for this session); it is opened on the sensor
    thread, and a session without one (Wayland, no display) makes the sensor unavailable, not the agent.
    """

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None, desktop: Callable[[], Desktop] | None = None) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._open_desktop = desktop or open_desktop
        self._desktop: Desktop | None = None

    def setup(self) -> None:
        self.desktop()

    def teardown(self) -> None:
        if self._desktop is not None:
            self._desktop.close()
            self._desktop = None

    def desktop(self) -> Desktop:
        if self._desktop is None:
            self._desktop = self._open_desktop()
        return self._desktop
