"""The audit log: search by who, what, on what, allowed or refused, and a day range; CSV export.

Auditor, security and admin only; reading or exporting the log is itself an audit record.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from collector.access import audit_csv
from collector.errors import CollectorError
from collector.web.site import Web, remote

PAGE_ROWS = 500
EXPORT_ROWS = 100_000
FIELDS = ("actor", "action", "target", "allowed", "from", "to")


def filters(params: Any, tz: tzinfo) -> tuple[dict[str, Any], dict[str, str]]:
    """Query parameters -> (keyword arguments of ``AccessService.search``, the form's values)."""
    shown = {k: str(params.get(k, "")).strip()[:100] for k in FIELDS}
    allowed = {"yes": True, "no": False}.get(shown["allowed"])
    out: dict[str, Any] = {"actor": shown["actor"], "action": shown["action"], "target": shown["target"],
                           "allowed": allowed}
    for key, arg, days in (("from", "since", 0), ("to", "until", 1)):
        if shown[key]:
            try:
                day = date.fromisoformat(shown[key]) + timedelta(days=days)
            except ValueError as exc:
                raise CollectorError(f"{key}: not a date (YYYY-MM-DD)", code="malformed", status=400) from exc
            out[arg] = datetime.combine(day, time(0), tz).timestamp()
    return out, shown


def register(app: FastAPI, web: Web) -> None:
    tz = web.collector.settings.tz

    @app.get("/audit", include_in_schema=False)
    def audit_page(request: Request) -> Response:
        who = web.who(request)
        search, shown = filters(request.query_params, tz)
        rows = web.collector.audit_for(who, {**search, "limit": PAGE_ROWS}, remote(request))
        return web.render(request, "audit.html", {"rows": rows, "f": shown,
                                                  "query": request.url.query}, who=who)

    @app.get("/audit.csv", include_in_schema=False)
    def audit_export(request: Request) -> Response:
        who = web.who(request)
        search, _shown = filters(request.query_params, tz)
        rows = web.collector.audit_for(who, {**search, "limit": EXPORT_ROWS}, remote(request), "export_audit")
        stamp = datetime.now(tz).strftime("%Y%m%d-%H%M%S")
        headers = {"Content-Disposition": f'attachment; filename="seatguard-audit-{stamp}.csv"',
                   "Cache-Control": "no-store"}
        return Response(audit_csv(rows, tz), media_type="text/csv; charset=utf-8", headers=headers)

    @app.get("/api/v1/audit", responses={c: {"description": "error"} for c in (400, 401, 403)})
    def audit_api(request: Request, actor: str = "", action: str = "", target: str = "", allowed: str = "",
                  limit: int = PAGE_ROWS) -> dict[str, Any]:
        """Audit records, newest first (auditor, security, admin); filters match part of a field."""
        who = web.who(request)
        search, _shown = filters(request.query_params, tz)
        search["limit"] = max(1, min(limit, EXPORT_ROWS))
        rows = web.collector.audit_for(who, search, remote(request))
        return {"records": rows}
