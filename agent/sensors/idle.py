"""Idle and active (input.idle / input.active) from the OS idle counter, else pynput activity.

Event moments are exact rather than poll-aligned: input.idle carries the moment the threshold was
crossed (last input + threshold) and input.active the moment input resumed, with ``idle_s`` the whole
quiet stretch. So [input.active ts - idle_s, input.active ts] is the idle interval, which is what the
cases sensor subtracts from handling time. The agent never learns which keys were pressed.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from agent.sensors.base import DesktopSensor
from agent.sensors.errors import SensorUnavailable
from agent.sensors.platform import start_input_listener, stop_input_listener

logger = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
MAX_ACTIVE_POLL_S = 30.0


class PynputActivity:
    """Fallback idle clock: the moment of the last key/mouse event, without the event's content."""

    def __init__(self) -> None:
        try:
            from pynput import keyboard, mouse
        except ImportError as exc:  # pynput refuses to load without a usable input backend
            raise SensorUnavailable(f"no OS idle time and no input hooks: {exc}") from exc
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._listeners: list[Any] = [
            keyboard.Listener(on_press=self._touch, on_release=self._touch),
            mouse.Listener(on_move=self._touch, on_click=self._touch, on_scroll=self._touch),
        ]
        try:
            for listener in self._listeners:
                start_input_listener(listener)
        except SensorUnavailable:
            self.close()
            raise

    def _touch(self, *_ignored: Any) -> None:
        with self._lock:
            self._last = time.monotonic()

    def idle_seconds(self) -> float:
        with self._lock:
            return time.monotonic() - self._last

    def close(self) -> None:
        for listener in self._listeners:
            stop_input_listener(listener)


class IdleSensor(DesktopSensor):
    name = "idle"

    _fallback: PynputActivity | None = None
    _idle_since: datetime | None = None
    _last_idle_s = 0.0

    def setup(self) -> None:
        if self.desktop().idle_seconds() is None:
            logger.info("no OS idle counter; measuring idle from input hooks")
            self._fallback = PynputActivity()

    def teardown(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
            self._fallback = None
        super().teardown()

    def interval(self) -> float:
        if self._idle_since is not None:
            return IDLE_POLL_S
        # nothing can happen before the threshold is reached: sleep until then
        return min(max(self.policy.idle_threshold_s - self._last_idle_s, IDLE_POLL_S), MAX_ACTIVE_POLL_S)

    def _idle_seconds(self) -> float:
        if self._fallback is not None:
            return self._fallback.idle_seconds()
        seconds = self.desktop().idle_seconds()
        return seconds if seconds is not None else 0.0

    def poll(self) -> None:
        threshold = self.policy.idle_threshold_s
        idle = self._idle_seconds()
        self._last_idle_s = idle
        last_input = self.clock.now() - timedelta(seconds=idle)
        if self._idle_since is not None:
            # a later last-input moment means someone touched the PC again
            if last_input - self._idle_since <= timedelta(seconds=threshold / 2):
                return
            quiet = (last_input - self._idle_since).total_seconds()
            self._idle_since = None
            self.emit("input.active", {"idle_s": round(quiet, 3)}, last_input)
        if idle >= threshold:
            self._idle_since = last_input
            self.emit("input.idle", {"threshold_s": threshold}, last_input + timedelta(seconds=threshold))

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["idle"] = self._idle_since is not None
        out["source"] = "input hooks" if self._fallback is not None else "os"
        return out
