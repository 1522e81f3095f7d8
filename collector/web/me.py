"""My activity: an agent's own day, who looked at their data, how long it is kept (and any legal hold on it),
and the notice of what SeatGuard records.

Personal-information law gives the person at the PC that right; the page shows exactly what a
manager would see (masked values), and reading it is audited like any other timeline read.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from collector.web.i18n import NOTICE_ZH, pick
from collector.web.site import Web, check_day, remote, shift_day
from collector.web.timeline_page import timeline_context
from contract.notice import NOTICE


def register(app: FastAPI, web: Web) -> None:
    @app.get("/me", include_in_schema=False)
    def me_page(request: Request, date: str = "") -> Response:
        who = web.who(request)
        day = check_day(date or web.today())
        data = web.collector.activity_for(who, day, remote(request))
        lang = pick(request)[0]
        context: dict[str, Any] = {"day": day, "prev_day": shift_day(day, -1), "next_day": shift_day(day, 1),
                                   "viewers": data["viewers"], "agent_id": data["agent_id"],
                                   "retention": data["retention"],
                                   "notice": NOTICE_ZH if lang == "zh-CN" else NOTICE, "notice_en": NOTICE}
        if data["timeline"] is not None:
            context.update(timeline_context(web, data["timeline"], lang))
        return web.render(request, "me.html", context, who=who)

    @app.get("/api/v1/me", responses={c: {"description": "error"} for c in (401, 403, 404)})
    def me(request: Request, date: str = "") -> dict[str, Any]:
        """The caller's own day and who looked at it (agent accounts), with the recording notice."""
        who = web.who(request)
        day = check_day(date or web.today())
        return {**web.collector.activity_for(who, day, remote(request)), "notice": NOTICE}
