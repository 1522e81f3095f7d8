"""Shifts: enter a day's shift (rota) or scheduled overtime for an agent, and see or clear what was entered.

The same service as ``/api/v1/agents/{agent_id}/shifts`` (:class:`collector.shifts.ShiftService`):
admins edit every agent's shifts, managers only their own teams' agents from yesterday on, security
reads them; every change and every refusal is audited.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from collector.accounts import Principal
from collector.errors import CollectorError
from collector.shifts import EDITORS
from collector.web.site import HEADERS, Web, remote

PAST_DAYS, NEXT_DAYS = 14, 45  # what the page lists around today


def _page(web: Web, request: Request, who: Principal, status: int = 200, **extra: Any) -> Response:
    c = web.collector
    today = date.fromisoformat(web.today())
    first, last = (today - timedelta(days=PAST_DAYS)).isoformat(), (today + timedelta(days=NEXT_DAYS)).isoformat()
    rows = c.shifts.entries(who, first, last, None, remote(request))
    agents = c.agents_for(who, remote(request)) if who.role in EDITORS else []
    context = {"shifts": rows, "agents": agents, "editor": who.role in EDITORS, "first": first, "last": last,
               "today": today.isoformat(), "done": "done" in request.query_params, "form": {}, **extra}
    return web.render(request, "shifts.html", context, status, who=who)


def register(app: FastAPI, web: Web) -> None:
    c = web.collector

    @app.get("/shifts", include_in_schema=False)
    def shifts_page(request: Request) -> Response:
        return _page(web, request, web.who(request))

    @app.post("/shifts", include_in_schema=False)
    async def set_shift(request: Request) -> Response:
        who, form = await web.form_who(request)
        days = (form.get("date", "").strip() or None, form.get("from", "").strip() or None,
                form.get("to", "").strip() or None)
        try:
            await run_in_threadpool(c.shifts.set, who, form.get("agent_id", "").strip(), c.shifts.days(*days),
                                    form.get("start", "").strip(), form.get("end", "").strip(),
                                    form.get("overtime") == "1", remote(request))
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message, form=form)
        return RedirectResponse("/shifts?done=1", status_code=303, headers=HEADERS)

    @app.post("/shifts/clear", include_in_schema=False)
    async def clear_shift(request: Request) -> Response:
        who, form = await web.form_who(request)
        try:
            day = form.get("day", "").strip()
            await run_in_threadpool(c.shifts.clear, who, form.get("agent_id", "").strip(),
                                    c.shifts.days(day or None, None, None), form.get("kind") or None,
                                    remote(request))
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message)
        return RedirectResponse("/shifts?done=1", status_code=303, headers=HEADERS)
