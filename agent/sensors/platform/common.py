"""What the OS layers share (each backend module imports it, never the package that picks among them)."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

MAX_CLIPBOARD_CHARS = 1 << 20  # clipboard text beyond this is neither read nor counted


@dataclass(frozen=True)
class Window:
    """The foreground window: an OS handle, the owning app's name, its title and process id (0: unknown)."""

    handle: int
    app: str
    title: str
    pid: int


def process_name(pid: int) -> str:
    """The executable name of a process, or "" when it is gone or hidden from us."""
    if pid <= 0:
        return ""
    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return ""
