"""``/api/v1/agents/{agent_id}/shifts``: the day's shift and scheduled overtime over HTTP (thin routes over
:class:`collector.shifts.ShiftService`, which checks scope and audits)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from collector.routes.common import Who
from collector.service import Collector


class _Days(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    date: str | None = Field(None, max_length=10, description="one day, YYYY-MM-DD")
    first: str | None = Field(None, alias="from", max_length=10, description="first day of a range")
    last: str | None = Field(None, alias="to", max_length=10, description="last day of a range")



class ShiftEntry(_Days):
    start: str = Field(max_length=5, description="HH:MM")
    end: str = Field(max_length=5, description="HH:MM (earlier than start: over midnight)")
    overtime: bool = Field(False, description="a scheduled overtime window added to the day's shift")


class ShiftClear(_Days):
    kind: Literal["shift", "overtime"] | None = None


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def register(app: FastAPI, collector: Collector) -> None:
    service = collector.shifts

    @app.get("/api/v1/agents/{agent_id}/shifts")
    def list_shifts(agent_id: str, who: Who, request: Request, first: str | None = Query(None, alias="from"),
                    last: str | None = Query(None, alias="to")) -> dict[str, Any]:
        """The agent's entered shifts and overtime (default: 31 days either side of today)."""
        if first is None and last is None:
            today = datetime.now(collector.settings.tz).date()
            first, last = (today - timedelta(days=31)).isoformat(), (today + timedelta(days=31)).isoformat()
        days = service.days(None, first, last)
        return {"shifts": service.entries(who, days[0], days[-1], agent_id, _remote(request))}

    @app.post("/api/v1/agents/{agent_id}/shifts")
    def set_shift(agent_id: str, body: ShiftEntry, who: Who, request: Request) -> dict[str, Any]:
        """Enter the day's shift (or ``overtime``) for one day or a range (admins; managers: own teams)."""
        days = service.days(body.date, body.first, body.last)
        return service.set(who, agent_id, days, body.start, body.end, body.overtime, _remote(request))

    @app.post("/api/v1/agents/{agent_id}/shifts/clear")
    def clear_shift(agent_id: str, body: ShiftClear, who: Who, request: Request) -> dict[str, Any]:
        """Remove entries (of one kind, or both): the agent's usual shift applies again."""
        return service.clear(who, agent_id, service.days(body.date, body.first, body.last), body.kind, _remote(request))
