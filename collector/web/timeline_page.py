"""One agent's day: lanes of apps and pages, case bars, idle gaps, markers, flagged moments, event table.

:func:`layout` turns a (scope-checked, audited) timeline into positions in percent of the shown
window; the template draws them and ``static/timeline.js`` only changes the zoom. Values are shown
exactly as stored, that is masked at ingest.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from collector.web.i18n import pick
from collector.web.site import Web, check_day, duration, remote, shift_day

MAX_APP_LANES = 8
OTHER = "…"
_ENVELOPE = ("schema", "agent_id", "seq", "ts", "kind")
_DANGER_PROCESS = ("remote_access", "screen_capture")
MANY_PHONES = 5  # one phone number copied during a call is ordinary work; ID and card numbers are not


@dataclass
class Bar:
    start: float
    end: float
    label: str
    tip: str
    cls: str = ""
    hue: int = 210
    x: float = 0.0
    w: float = 0.0


@dataclass
class Marker:
    sec: float
    seq: int
    symbol: str
    tip: str
    cls: str = ""
    x: float = 0.0


@dataclass
class Lane:
    key: str
    name: str  # an app's name, or an i18n key when ``fixed``
    fixed: bool = False
    bars: list[Bar] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)


def _hue(name: str) -> int:
    return zlib.crc32(name.encode()) % 360


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url[:40]
    except ValueError:
        return url[:40]


class _Tracker:
    """Open spans of one kind of thing (an app in front, a page open) that end when something else starts."""

    def __init__(self) -> None:
        self.current: tuple[str, str, float] | None = None
        self.spans: list[tuple[str, str, float, float]] = []

    def start(self, name: str, tip: str, sec: float) -> None:
        self.stop(sec)
        self.current = (name, tip, sec)

    def stop(self, sec: float) -> None:
        if self.current is not None:
            name, tip, began = self.current
            if sec > began:
                self.spans.append((name, tip, began, sec))
            self.current = None

    def pause(self, sec: float) -> tuple[str, str, float] | None:
        held = self.current
        self.stop(sec)
        return held


def details(event: dict[str, Any]) -> str:
    """The event's own fields as ``key=value`` text, exactly as stored."""
    parts = []
    for key, value in event.items():
        if key in _ENVELOPE:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        parts.append(f"{key}={value}")
    return "  ".join(parts)


def _marker(e: dict[str, Any], sec: float) -> Marker | None:
    kind, seq = e["kind"], int(e["seq"])
    if kind == "clipboard.copy":
        classes = {k: int(v) for k, v in (e.get("classes") or {}).items() if isinstance(v, int | float)}
        n = sum(classes.values())
        risky = classes.get("id_number", 0) + classes.get("bank_card", 0) > 0 or classes.get("phone", 0) >= MANY_PHONES
        return Marker(sec, seq, "◆", f"copy in {e.get('app', '?')}: {e.get('chars', 0)} chars, {n} numbers",
                      "danger" if risky else "")
    if kind == "file.write":
        return Marker(sec, seq, "▲", f"{e.get('op', '')} {e.get('path', '')}",
                      "danger" if e.get("removable") else "")
    if kind in ("device.mount", "device.unmount"):
        return Marker(sec, seq, "●", f"{kind} {e.get('label', '')} {e.get('mountpoint', '')}",
                      "danger" if e.get("removable") and kind == "device.mount" else "")
    if kind == "process.start" and e.get("category") != "other":
        return Marker(sec, seq, "●", f"{e.get('category')}: {e.get('name', '')}",
                      "danger" if e.get("category") in _DANGER_PROCESS else "")
    if kind == "screenshot":
        return Marker(sec, seq, "■", f"screenshot ({e.get('reason', '')})", "danger")
    return None


def layout(timeline: dict[str, Any], flagged: dict[int, str], tz: tzinfo) -> dict[str, Any]:
    """Lanes, markers and the event table of one day, positioned in percent of the shown window."""
    day = datetime.fromisoformat(timeline["date"]).date()
    midnight = datetime.combine(day, time(0), tz)
    events = timeline["events"]

    def sec_of(ts: str | None) -> float:
        if not ts:
            return 0.0
        return (datetime.fromisoformat(ts) - midnight).total_seconds()

    apps, pages = _Tracker(), _Tracker()
    idle: list[tuple[float, float]] = []
    idle_from: float | None = None
    held: tuple[str, str, float] | None = None
    page_app = ""
    markers: list[Marker] = []
    rows = []
    for e in events:
        sec = sec_of(e["ts"])
        kind = e["kind"]
        if kind == "app.focus":
            apps.start(str(e.get("app", "?")), str(e.get("title", "")), sec)
            if pages.current and page_app != str(e.get("app", "")):
                pages.stop(sec)  # the browser went to the background: its page is no longer in front
        elif kind == "page.open":
            page_app = str(e.get("app", ""))
            pages.start(_host(str(e.get("url", ""))), str(e.get("title", "")), sec)
        elif kind == "input.idle":
            idle_from = max(sec - float(e.get("threshold_s", 0)), apps.current[2] if apps.current else 0.0)
            held = apps.pause(idle_from)
            pages.stop(idle_from)
        elif kind == "input.active":
            began = sec - float(e.get("idle_s", 0)) if idle_from is None else idle_from
            idle.append((max(began, 0.0), sec))
            idle_from = None
            if held is not None and apps.current is None:
                apps.start(held[0], held[1], sec)
            held = None
        elif kind == "agent.stop":
            apps.stop(sec)
            pages.stop(sec)
        marker = _marker(e, sec)
        if marker is not None:
            markers.append(marker)
        rows.append({"seq": int(e["seq"]), "ts": e["ts"], "kind": kind, "details": details(e),
                     "flag": flagged.get(int(e["seq"])),
                     "danger": marker is not None and marker.cls == "danger"})
    end = sec_of(events[-1]["ts"]) if events else 0.0
    apps.stop(end)
    pages.stop(end)
    if idle_from is not None:
        idle.append((idle_from, end))

    lo, hi = _window([sec_of(e["ts"]) for e in events])
    lanes = _app_lanes(apps.spans)
    page_bars = [Bar(a, b, name, f"{name} — {tip}", hue=_hue(name)) for name, tip, a, b in pages.spans]
    lanes.append(Lane("pages", "timeline.lane.pages", True, page_bars))
    cases = []
    for c in timeline.get("cases", []):
        a = sec_of(c["opened"]) if c.get("opened") else lo
        b = sec_of(c["closed"]) if c.get("closed") else end
        took = duration(c.get("wall_s")) if c.get("closed") else "…"
        cases.append(Bar(a, max(b, a + 1), f"{c['case_id']} · {took}",
                         f"{c['case_id']}: {took} (active {duration(c.get('active_s'))}, "
                         f"idle {duration(c.get('idle_s'))})", "case"))
    lanes.append(Lane("cases", "timeline.lane.cases", True, cases))
    lanes.append(Lane("idle", "timeline.lane.idle", True,
                      [Bar(a, b, duration(b - a), f"idle {duration(b - a)}", "idle") for a, b in idle]))
    lanes.append(Lane("markers", "timeline.lane.markers", True, markers=markers))
    flags = [Marker(sec_of(r["ts"]), r["seq"], "⚑", r["flag"] or "", "flag") for r in rows if r["flag"]]
    lanes.append(Lane("flags", "timeline.lane.flags", True, markers=flags))
    span = hi - lo
    for lane in lanes:
        for bar in lane.bars:
            bar.x = max(0.0, (bar.start - lo) / span * 100)
            bar.w = max(0.15, (min(bar.end, hi) - max(bar.start, lo)) / span * 100)
        for m in lane.markers:
            m.x = min(100.0, max(0.0, (m.sec - lo) / span * 100))
    ticks = []
    for h in range(int(lo // 3600), int(hi // 3600) + 1):
        x = (h * 3600 - lo) / span * 100
        if 0 <= x <= 100:
            ticks.append({"x": x, "label": f"{h:02d}:00", "edge": "first" if x < 1 else "last" if x > 99 else ""})
    return {"lanes": lanes, "ticks": ticks, "rows": rows, "cases": timeline.get("cases", [])}


def _window(secs: list[float]) -> tuple[float, float]:
    if not secs:
        return 8 * 3600.0, 18 * 3600.0
    lo = max(0.0, (min(secs) // 3600) * 3600)
    hi = min(86400.0, (max(secs) // 3600 + 1) * 3600)
    return lo, max(hi, lo + 3600)


def _app_lanes(spans: list[tuple[str, str, float, float]]) -> list[Lane]:
    totals: dict[str, float] = {}
    for name, _tip, a, b in spans:
        totals[name] = totals.get(name, 0.0) + b - a
    top = sorted(totals, key=lambda n: (-totals[n], n))
    shown = set(top[:MAX_APP_LANES])
    lanes = {name: Lane(f"app:{name}", name) for name in top[:MAX_APP_LANES]}
    if len(top) > MAX_APP_LANES:
        lanes[OTHER] = Lane("app:other", OTHER)
    for name, tip, a, b in spans:
        lane = lanes[name if name in shown else OTHER]
        lane.bars.append(Bar(a, b, name, f"{name} — {tip}", hue=_hue(name)))
    return list(lanes.values())


def flagged_moments(web: Web, agent_id: str, day: str, lang: str) -> dict[int, str]:
    """Moments the day's report gives as evidence for this agent (read after the timeline's scope check)."""
    report = web.collector.reports.get(day) or {}
    out: dict[int, str] = {}
    for finding in report.get("findings", []):
        if finding.get("agent_id") != agent_id:
            continue
        for ev in finding.get("evidence", []):
            if isinstance(ev, dict) and "seq" in ev:
                text = ev.get("what_zh") if lang == "zh-CN" and ev.get("what_zh") else ev.get("what", "")
                out[int(ev["seq"])] = str(text or ev.get("kind", ""))
    return out


def timeline_context(web: Web, timeline: dict[str, Any], lang: str) -> dict[str, Any]:
    flagged = flagged_moments(web, timeline["agent_id"], timeline["date"], lang)
    return {"tl": timeline, "view": layout(timeline, flagged, web.collector.settings.tz)}


def register(app: FastAPI, web: Web) -> None:
    @app.get("/agents/{agent_id}/timeline", include_in_schema=False)
    def timeline_page(agent_id: str, request: Request, date: str = "") -> Response:
        who = web.who(request)
        day = check_day(date or web.today())
        timeline = web.collector.timeline_for(who, agent_id, day, remote(request))
        context = timeline_context(web, timeline, pick(request)[0])
        context.update(day=day, prev_day=shift_day(day, -1), next_day=shift_day(day, 1))
        return web.render(request, "timeline.html", context, who=who)
