"""The web UI: server-rendered pages over the same service layer (and scope checks) as the JSON API.

One module per page type registers its routes: :mod:`.login`, :mod:`.report_page`,
:mod:`.timeline_page`, :mod:`.wall_page`, :mod:`.shifts_page`, :mod:`.admin`, :mod:`.audit_page`, :mod:`.me` and
:mod:`.api_docs` (only with the ``api_docs`` setting).
Sessions and CSRF are in :mod:`.sessions`, the two languages in :mod:`.i18n`, what pages share in
:mod:`.site`. Everything the browser loads is served from ``/static`` (no CDN); the only scripts
are the timeline zoom, the live wall's server-sent events and the report's review labels.
"""

from __future__ import annotations

import inspect

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from collector.errors import CollectorError
from collector.service import Collector
from collector.wall import ingest_listener
from collector.web import (
    admin,
    alerts_page,
    api_docs,
    audit_page,
    login,
    me,
    report_page,
    shifts_page,
    timeline_page,
    wall_page,
)
from collector.web.site import STATIC, Web

PAGES = (login, report_page, timeline_page, wall_page, alerts_page, shifts_page, admin, audit_page, me, api_docs)


def mount_web(app: FastAPI, collector: Collector) -> None:
    web = Web(collector)
    app.state.web = web
    app.state.web_sessions = web.sessions  # the API's principal() accepts the session cookie through it
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    collector.listeners.register("wall", ingest_listener)  # every committed batch wakes the live wall
    for page in PAGES:
        page.register(app, web)
    json_handler = app.exception_handlers.get(CollectorError)

    async def collector_error(request: Request, exc: Exception) -> Response:
        """Pages answer errors with a page (or the sign-in form); /api and the rest keep the JSON shape."""
        if isinstance(exc, CollectorError) and _is_page(request):
            return web.error_page(request, exc)
        if json_handler is None:
            status, code, message = getattr(exc, "status", 500), getattr(exc, "code", "internal"), str(exc)
            return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
        result = json_handler(request, exc)
        return await result if inspect.isawaitable(result) else result

    app.add_exception_handler(CollectorError, collector_error)


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path in ("/healthz", "/metrics") or path.startswith("/static/"))
