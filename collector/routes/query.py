"""What people and scripts read over the JSON API: agents, timelines, reports and screenshots.

Every route takes the caller (:data:`collector.routes.common.Who`); scope checks and auditing are the
services' (:class:`collector.service.Collector` and :class:`collector.screenshots.ScreenshotService`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from collector.routes.common import ERRORS, Who, remote
from collector.service import Collector


def register(app: FastAPI, collector: Collector) -> None:
    @app.get("/api/v1/agents/{agent_id}/screenshots/{blob_id}", responses=ERRORS,
             response_class=Response)
    def screenshot(agent_id: str, blob_id: str, who: Who, request: Request) -> Response:
        """One screenshot as PNG (admin and security only; audited)."""
        png = collector.screenshots.image_for(who, agent_id, blob_id, remote(request))
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/v1/agents", responses=ERRORS)
    def agents(who: Who, request: Request) -> dict[str, Any]:
        """The agents in the caller's scope (audited once per agent listed)."""
        return {"agents": collector.agents_for(who, remote(request))}

    @app.get("/api/v1/agents/{agent_id}/timeline", responses=ERRORS)
    def timeline(agent_id: str, date: str, who: Who, request: Request) -> dict[str, Any]:
        return collector.timeline_for(who, agent_id, date, remote(request))

    @app.get("/api/v1/reports/{day}", responses=ERRORS)
    def report(day: str, who: Who, request: Request) -> dict[str, Any]:
        return collector.report_for(who, day, remote(request))
