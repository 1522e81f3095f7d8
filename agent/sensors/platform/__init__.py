"""Thin OS layers: what is in front, how long since the last input, and the clipboard.

One :class:`Desktop` per sensor thread (X11 connections and COM-ish handles are not shared between
threads). :func:`open_desktop` picks the layer for this session or raises
:class:`~agent.sensors.errors.SensorUnavailable` saying why (Wayland, no display, pyobjc missing).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Protocol

from agent.sensors.errors import SensorUnavailable
from agent.sensors.platform.common import MAX_CLIPBOARD_CHARS, Window, process_name

__all__ = ["MAX_CLIPBOARD_CHARS", "Desktop", "Window", "open_desktop", "process_name", "session_problem",
           "start_input_listener", "stop_input_listener"]


class Desktop(Protocol):
    kind: str

    def foreground(self) -> Window | None:
        """The window in front, or None when nothing has the focus."""
        ...

    def idle_seconds(self) -> float | None:
        """Seconds since the last keyboard/mouse input; None when the OS cannot tell."""
        ...

    def clipboard_sequence(self) -> int:
        """A counter that changes whenever something is put on the clipboard."""
        ...

    def clipboard_text(self) -> str | None:
        """The clipboard's text (at most MAX_CLIPBOARD_CHARS), or None when it holds no text."""
        ...

    def clear_clipboard(self) -> bool:
        """Empty the clipboard; True when done."""
        ...

    def close(self) -> None: ...


def session_problem() -> str | None:
    """Why desktop sensors cannot work in this session, or None when they can."""
    if sys.platform in ("win32", "darwin"):
        return None
    if os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or os.environ.get("WAYLAND_DISPLAY"):
        return "Wayland session: focus tracking unavailable (only X11, Windows and macOS are supported)"
    if not os.environ.get("DISPLAY"):
        return "no X11 display (DISPLAY is not set): focus tracking unavailable"
    return None


def open_desktop() -> Desktop:
    """The OS layer for this session; raises SensorUnavailable with the reason when there is none."""
    problem = session_problem()
    if problem:
        raise SensorUnavailable(problem)
    if sys.platform == "win32":
        from agent.sensors.platform.windows import WindowsDesktop

        return WindowsDesktop.load()
    if sys.platform == "darwin":
        from agent.sensors.platform.macos import MacDesktop

        return MacDesktop.load()
    from agent.sensors.platform.x11 import X11Desktop

    return X11Desktop(os.environ.get("DISPLAY"))


def stop_input_listener(listener: Any, timeout: float = 2.0) -> None:
    """Stop a pynput listener and wait for its thread.

    pynput 1.8's X11 listener sends RecordDisableContext on its own recording connection, which is
    blocked reading events once the first one arrived, so the listener would end only at the next key
    press. The X RECORD protocol expects that request on another connection: send it from one.
    """
    if not listener.is_alive():
        return  # never started, or already ended (pynput's stop() would wait for it to be ready)
    listener.stop()
    context = getattr(listener, "_context", None)
    if context is not None and sys.platform.startswith("linux") and os.environ.get("DISPLAY"):
        from agent.sensors.platform.x11 import disable_record_context

        disable_record_context(int(context))
    listener.join(timeout)


def start_input_listener(listener: Any, timeout: float = 5.0) -> None:
    """Start a pynput listener and wait until it is ready, but not forever.

    ``Listener.wait()`` has no timeout and never returns when the listener thread dies first (no
    display, no permission), so it runs on a helper thread here. Raises SensorUnavailable with the
    listener's own error when it could not start.
    """
    listener.start()
    waiter = threading.Thread(target=listener.wait, name="input-hooks-ready", daemon=True)
    waiter.start()
    deadline = time.monotonic() + timeout
    while waiter.is_alive():
        if not listener.is_alive():
            try:
                listener.join(0)  # pynput re-raises the listener thread's error here
            except Exception as exc:  # whatever the backend raised: report it as the reason
                raise SensorUnavailable(f"input hooks failed to start: {exc}") from exc
            raise SensorUnavailable("input hooks stopped while starting")
        if time.monotonic() >= deadline:  # not stopped: pynput's stop() itself waits for readiness
            raise SensorUnavailable(f"input hooks not ready after {timeout:g} s")
        waiter.join(0.05)
