"""Handling time of customer cases (case.open / case.close), from the events of other sensors.

A case is the ID that the policy's case patterns find in the foreground window title or, in a
browser, the page URL. It opens when it comes to the front. It closes when another case comes to the
front, or once it has been out of the front for ``case_absence_s``; either way it closes at the moment
it left the front, so short detours (a calculator, a chat) count towards the case, and a case
abandoned for the rest of the day does not. ``idle_s`` is the part of [open, close] inside idle
intervals reported by the idle sensor, ``active_s`` the rest, ``wall_s`` the whole.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.sensors.base import Clock, EventSink, Sensor
from agent.sensors.policy import AgentPolicy

_SPAN_MEMORY = 256
Event = tuple[str, dict[str, Any], datetime]


@dataclass
class _Case:
    case_id: str
    opened: datetime
    away_since: datetime | None = None


class CaseSensor(Sensor):
    name = "cases"
    observes = frozenset({"app.focus", "page.open", "input.idle", "input.active"})

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._lock = threading.Lock()
        self._case: _Case | None = None
        self._app: str | None = None
        self._title = ""
        self._url = ""
        self._idle_since: datetime | None = None
        self._idle_spans: list[tuple[datetime, datetime]] = []
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop_event.clear()
            self._thread = threading.Thread(target=self._run, name="sensor-cases", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop_event.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(10.0)
        with self._lock:
            case, self._case = self._case, None
            events = [self._close(case, case.away_since or self.clock.now())] if case else []
        self._send(events)

    def _run(self) -> None:
        pause = min(1.0, self.policy.case_absence_s / 4)
        while not self._stop_event.wait(pause):
            self.tick()

    def status(self) -> dict[str, Any]:
        out = super().status()
        with self._lock:
            out["open_case"] = self._case.case_id if self._case else None
        return out

    # ---- what happens -------------------------------------------------------------------------

    def tick(self) -> None:
        """Close a case that has been out of the front for too long (called every second)."""
        with self._lock:
            case = self._case
            events: list[Event] = []
            limit = timedelta(seconds=self.policy.case_absence_s)
            away = case.away_since if case is not None else None
            if case is not None and away is not None and self.clock.now() - away >= limit:
                self._case = None
                events.append(self._close(case, away))
        self._send(events)

    def observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> None:
        with self._lock:
            events = self._observe(kind, fields, ts)
        self._send(events)

    def _observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> list[Event]:
        if kind == "input.idle":
            self._idle_since = ts - timedelta(seconds=float(fields["threshold_s"]))
        elif kind == "input.active":
            self._idle_spans.append((ts - timedelta(seconds=float(fields["idle_s"])), ts))
            del self._idle_spans[:-_SPAN_MEMORY]
            self._idle_since = None
        elif kind == "app.focus":
            self._app, self._title = str(fields["app"]), str(fields["title"])
            url = self._url if self.policy.is_browser(self._app) else ""
            return self._front(ts, self._app, self._title, self.policy.find_case_id(self._title, url))
        elif kind == "page.open" and (self._app is None or self.policy.is_browser(self._app)):
            # a page in the browser in front (or no focus tracking at all, e.g. on Wayland)
            title, url = str(fields.get("title", "")), str(fields.get("url", ""))
            self._url = url
            app = self._app or str(fields.get("app", ""))
            case_id = self.policy.find_case_id(url, title, self._title)
            return self._front(ts, app, title or self._title, case_id)
        return []

    def _front(self, ts: datetime, app: str, title: str, case_id: str | None) -> list[Event]:
        case = self._case
        if case_id is None:
            if case is not None and case.away_since is None:
                case.away_since = ts
            return []
        if case is not None and case.case_id == case_id:
            case.away_since = None
            return []
        events = [self._close(case, case.away_since or ts)] if case is not None else []
        self._case = _Case(case_id, ts)
        events.append(("case.open", {"case_id": case_id, "app": app, "title": title}, ts))
        return events

    def _close(self, case: _Case, end: datetime) -> Event:
        wall = max((end - case.opened).total_seconds(), 0.0)
        spans = list(self._idle_spans)
        if self._idle_since is not None:
            spans.append((self._idle_since, end))
        idle = sum(max((min(e, end) - max(s, case.opened)).total_seconds(), 0.0) for s, e in spans)
        wall_s = round(wall, 3)
        idle_s = round(min(idle, wall), 3)
        fields = {"case_id": case.case_id, "active_s": round(wall_s - idle_s, 3), "idle_s": idle_s,
                  "wall_s": wall_s}
        return ("case.close", fields, end)

    def _send(self, events: list[Event]) -> None:
        for kind, fields, ts in events:
            self.emit(kind, fields, ts)
