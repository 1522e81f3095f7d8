"""Legal holds over HTTP (admins): thin routes over :class:`collector.holds.HoldService`, which checks the
role, the agent and the reason, and audits every action with its reason."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from collector.holds import MAX_REASON
from collector.routes.common import ERRORS, Who, remote
from collector.service import Collector


class HoldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=MAX_REASON * 4, description="why (kept masked, written to the audit log)")


def register(app: FastAPI, collector: Collector) -> None:
    holds = collector.holds

    @app.get("/api/v1/holds", responses=ERRORS)
    def list_holds(who: Who, request: Request) -> dict[str, Any]:
        """Every agent under a legal hold: reason, who set it and when (admins)."""
        return {"holds": holds.list_for(who, remote(request))}

    @app.post("/api/v1/agents/{agent_id}/hold", responses=ERRORS)
    def set_hold(agent_id: str, body: HoldChange, who: Who, request: Request) -> dict[str, Any]:
        """Suspend retention for the agent's data (admins; audited with the reason)."""
        return holds.set_for(who, agent_id, body.reason, remote(request))

    @app.post("/api/v1/agents/{agent_id}/hold/lift", responses=ERRORS)
    def lift_hold(agent_id: str, body: HoldChange, who: Who, request: Request) -> dict[str, Any]:
        """End the agent's legal hold (admins; audited with the reason): the next purge applies retention."""
        return holds.lift_for(who, agent_id, body.reason, remote(request))
