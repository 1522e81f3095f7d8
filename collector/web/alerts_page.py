"""Alerts: the real-time alerts in the viewer's scope, newest first, each with an acknowledge button.

The same service methods as ``GET /api/v1/alerts`` and ``POST /api/v1/alerts/{id}/ack`` (scope
checks and audit records included); a manager sees and acknowledges only their teams' alerts.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from collector.web.site import Web, remote


def register(app: FastAPI, web: Web) -> None:
    c = web.collector

    @app.get("/alerts", include_in_schema=False)
    def alerts_page(request: Request, state: str = "open") -> Response:
        who = web.who(request)
        wanted = state if state in ("open", "acked") else None
        rows = c.alerts.list_for(who, wanted, None, None, None, 200, remote(request))
        return web.render(request, "alerts.html", {"alerts": rows, "state": state}, who=who)

    @app.post("/alerts/{alert_id}/ack", include_in_schema=False)
    async def ack(alert_id: int, request: Request) -> Response:
        who, form = await web.form_who(request)
        await run_in_threadpool(c.alerts.ack_for, who, alert_id, form.get("note", "")[:500], remote(request))
        return RedirectResponse("/alerts", status_code=303)
