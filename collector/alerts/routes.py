"""HTTP routes of the alerts (thin: the logic is in :class:`collector.alerts.service.AlertService`).

``register(app, collector)`` adds::

    GET  /api/v1/alerts?state=open|acked&agent=ID&date=YYYY-MM-DD&limit=N   alerts in the caller's scope
    POST /api/v1/alerts/{id}/ack            {"note": "..."} (optional)       acknowledge one alert
    GET  /api/v1/alerts/dead-letters                                         admin: deliveries that gave up
    POST /api/v1/alerts/dead-letters/{id}/retry                              admin: try a dead letter again
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from collector.alerts.service import AlertService
from collector.routes.common import Who
from collector.routes.common import remote as _remote

_ERRORS: dict[int | str, dict[str, Any]] = {c: {"description": "error"} for c in (400, 401, 403, 404, 409)}


class AckRequest(BaseModel):
    note: str = Field(default="", max_length=500)


RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class HasAlerts(Protocol):
    """The collector, as far as these routes are concerned."""

    alerts: AlertService


def register(app: FastAPI, collector: HasAlerts) -> None:
    @app.get("/api/v1/alerts", responses=_ERRORS)
    def list_alerts(who: Who, request: Request, state: str | None = None,
                    agent: Annotated[str | None, Query(max_length=64)] = None,
                    date: Annotated[str | None, Query(max_length=10)] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """Alerts in the caller's scope, newest first (admin, security; managers: their teams)."""
        return {"alerts": collector.alerts.list_for(who, state, agent, date, None, limit, _remote(request))}

    @app.post("/api/v1/alerts/{alert_id}/ack", responses=_ERRORS)
    def ack_alert(alert_id: RowId, who: Who, request: Request, body: AckRequest | None = None) -> dict[str, Any]:
        """Acknowledge an alert: its later repeats are recorded but no longer delivered."""
        note = body.note if body is not None else ""
        return collector.alerts.ack_for(who, alert_id, note, _remote(request))

    @app.get("/api/v1/alerts/dead-letters", responses=_ERRORS)
    def dead_letters(who: Who, request: Request) -> dict[str, Any]:
        """Deliveries that gave up (admins): channel, attempts, last error and the masked payload."""
        return {"dead_letters": collector.alerts.dead_letters_for(who, _remote(request))}

    @app.post("/api/v1/alerts/dead-letters/{delivery_id}/retry", responses=_ERRORS)
    def retry_dead_letter(delivery_id: RowId, who: Who, request: Request) -> dict[str, Any]:
        """Offer a dead letter to its channel again (admins)."""
        return collector.alerts.retry_dead_letter_for(who, delivery_id, _remote(request))
