"""Foreground app and window title (app.focus); browser title changes as page.open without the extension."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.sensors.base import Clock, DesktopSensor, EventSink
from agent.sensors.platform import Desktop
from agent.sensors.policy import AgentPolicy

_BROWSER_SUFFIX = re.compile(
    r"\s+[-\u2013\u2014]\s+(Google Chrome|Chromium|Microsoft\u200b?\s?Edge|Mozilla Firefox|Firefox"
    r"|Brave|Opera|Vivaldi|Safari)\s*$")
_TITLE_MEMORY = 512


def page_title(window_title: str) -> str:
    """A browser window title without the trailing " - Browser Name"."""
    return _BROWSER_SUFFIX.sub("", window_title)


class FocusSensor(DesktopSensor):
    name = "focus"
    observes = frozenset({"page.open"})

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None, desktop: Callable[[], Desktop] | None = None) -> None:
        super().__init__(sink, policy, clock, home=home, desktop=desktop)
        self._last: tuple[str, str] | None = None
        self._titles: dict[int, str] = {}
        self._extension_seen = False

    def interval(self) -> float:
        return self.policy.focus_poll_s

    def observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> None:
        if kind == "page.open" and fields.get("url"):
            self._extension_seen = True  # the extension reports pages; titles no longer need to

    def poll(self) -> None:
        window = self.desktop().foreground()
        if window is None:
            return
        now = self.clock.now()
        if (window.app, window.title) != self._last:
            self._last = (window.app, window.title)
            self.emit("app.focus", {"app": window.app, "title": window.title, "pid": window.pid}, now)
        if not self.policy.is_browser(window.app) or self._covered(window.app):
            return
        if self._titles.get(window.handle) != window.title:
            if len(self._titles) >= _TITLE_MEMORY:
                self._titles.clear()
            self._titles[window.handle] = window.title
            if window.title:
                self.emit("page.open", {"url": "", "title": page_title(window.title), "app": window.app}, now)

    def _covered(self, app: str) -> bool:
        return self._extension_seen and self.policy.is_extension_browser(app)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["extension_seen"] = self._extension_seen
        return out
