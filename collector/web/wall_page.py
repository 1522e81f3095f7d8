"""The live wall: every agent in the viewer's scope, its state, the app in front, cases handled today.

``GET /api/v1/wall/events`` is a server-sent-event stream: a ``snapshot`` first, then an ``agent``
event whenever an agent's row changes. It wakes on :func:`collector.wall.notify_ingest` (batches
stored by any collector process on the same PostgreSQL database, see :class:`collector.wall.WallHub`)
and polls every :data:`POLL_S` seconds as well (time passing turns "active" into "agent silent"). A
stream ends after :data:`STREAM_S` seconds and the browser reconnects by itself, so a stopping server
is never held open for long.

The viewer is signed in again (session or API token, role and teams re-read) before every update: a
disabled account, a revoked session or token, or a role that no longer sees the wall gets an ``end``
event with the reason and the stream closes within :data:`POLL_S` seconds.

Opening a stream is audited once per agent on the wall (``open_wall_stream``); an agent that shows up
later in an open stream, on a row or in an alert, is audited when it first does (``read_wall_stream``).

The page itself starts with today's open (unacknowledged) alerts in the viewer's scope, newest first,
at most :data:`RECENT_ALERTS`: read through the alerts service as ``/alerts`` reads them (scope check,
one ``read_alerts`` audit record per agent shown, masked values); live ones are added on top. With
``alert_wall = "off"`` the wall shows no alerts at all, neither on load nor live.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from collector.accounts import Principal
from collector.errors import CollectorError
from collector.wall import hub
from collector.web.site import Web, remote

log = logging.getLogger(__name__)

POLL_S = 2.0
PING_S = 15.0
STREAM_S = 120.0
RETRY_MS = 2000
RECENT_ALERTS = 20  # today's open alerts the page starts with (wall.js keeps the list to the same length)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _recheck(web: Web, request: Request, where: str | None) -> tuple[Principal, list[dict[str, Any]]]:
    """The viewer as the accounts store sees them now, and the rows that viewer may see now."""
    who = web.who(request)
    return who, web.collector.wall_for(who, where, False)


def _audit_new(web: Web, who: Principal, where: str | None, shown: set[str], agent_ids: list[str]) -> None:
    """Agents that appear in an open stream for the first time (newly enrolled, a team added) are audited."""
    new = [a for a in agent_ids if a and a not in shown]
    if new:
        web.collector.access.audit_shown(who, "read_wall_stream", "wall", new, where)
        shown.update(new)


async def stream(web: Web, request: Request, who: Principal, first: list[dict[str, Any]], once: bool,
                 where: str | None) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    sub = hub().subscribe()
    try:
        yield f"retry: {RETRY_MS}\n".encode() + sse("snapshot", first)
        if once:
            return
        last = {row["agent_id"]: row for row in first}
        shown = set(last)  # audited when the stream opened (open_wall_stream)
        ends, pinged = loop.time() + STREAM_S, loop.time()
        while loop.time() < ends:
            woke = await sub.wait(min(POLL_S, max(0.0, ends - loop.time())))
            try:
                who, rows = await run_in_threadpool(_recheck, web, request, where)
            except CollectorError as exc:
                log.info("wall stream for %s ended: %s", who.name, exc)
                yield sse("end", {"reason": str(exc)})
                return
            alerts = [a for a in sub.take_alerts() if who.can_see_team(str(a.get("team", "")))]
            seen = [str(r["agent_id"]) for r in rows] + [str(a.get("agent_id", "")) for a in alerts]
            await run_in_threadpool(_audit_new, web, who, where, shown, seen)
            for alert in alerts:
                yield sse("alert", alert)
            changed = [r for r in rows if last.get(r["agent_id"]) != r]
            for row in changed:
                yield sse("agent", row)
            last = {row["agent_id"]: row for row in rows}
            if not changed and (woke or loop.time() - pinged > PING_S):
                yield b": ping\n\n"
                pinged = loop.time()
    finally:
        hub().unsubscribe(sub)


def register(app: FastAPI, web: Web) -> None:
    @app.get("/wall", include_in_schema=False)
    def wall_page(request: Request) -> Response:
        who = web.who(request)
        agents = web.collector.wall_for(who, remote(request))
        today = web.today()
        alerts = [] if web.collector.alerts.config.wall != "on" else \
            web.collector.alerts.list_for(who, "open", None, today, None, RECENT_ALERTS, remote(request))
        return web.render(request, "wall.html", {"agents": agents, "today": today, "alerts": alerts,
                                                 "alerts_max": RECENT_ALERTS}, who=who)

    @app.get("/api/v1/wall", responses={c: {"description": "error"} for c in (401, 403)})
    def wall(request: Request) -> dict[str, Any]:
        """Live-wall state of every agent in the caller's scope (admin, security, managers)."""
        who = web.who(request)
        return {"agents": web.collector.wall_for(who, remote(request))}

    @app.get("/api/v1/wall/events", responses={c: {"description": "error"} for c in (401, 403)})
    async def wall_events(request: Request, once: bool = False) -> Response:
        """Server-sent events: ``snapshot``, then ``agent`` per changed row (``once=true``: snapshot only)."""
        who = web.who(request)
        first = await run_in_threadpool(web.collector.wall_for, who, remote(request), "open_wall_stream")
        return StreamingResponse(stream(web, request, who, first, once, remote(request)),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
