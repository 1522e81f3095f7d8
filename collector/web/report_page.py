"""The daily report: ranked findings with reasons and evidence, team and severity filters, review labels.

The findings come from :meth:`Collector.report_for` (scope: managers get their own teams' findings;
the read is audited). Team and severity filters narrow what is already in scope. Labels are saved by
``static/report.js`` through ``POST /api/v1/reports/{day}/labels`` with the session's CSRF header.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from collector.errors import NotFound
from collector.service import REVIEWERS
from collector.web.i18n import pick
from collector.web.site import HEADERS, Web, check_day, remote, shift_day

SEVERITIES = ("critical", "high", "medium", "low", "none")
VERDICTS = ("confirmed", "benign", "follow_up")
ERRORS: dict[int | str, dict[str, Any]] = {c: {"description": "error"} for c in (400, 401, 403, 404)}


class LabelRequest(BaseModel):
    agent_id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=16)
    note: str = Field(default="", max_length=2000)


def _team_names(report: dict[str, Any]) -> list[str]:
    names = {str(t.get("team")) if isinstance(t, dict) else str(t) for t in report.get("teams", [])}
    names |= {str(f.get("team")) for f in report.get("findings", []) if f.get("team")}
    return sorted(names)


def _pick(item: dict[str, Any], key: str, lang: str) -> Any:
    """The Chinese variant ``key_zh`` on a Chinese page when the report has it, else ``key``."""
    return item.get(f"{key}_zh") if lang == "zh-CN" and item.get(f"{key}_zh") else item.get(key)


def view(report: dict[str, Any], team: str, severity: str, lang: str) -> dict[str, Any]:
    """What the page shows of an (already scoped) report: filtered findings, in the page's language."""
    findings = []
    for f in report.get("findings", []):
        if (team and f.get("team") != team) or (severity and f.get("severity") != severity):
            continue
        reasons = _pick(f, "reasons", lang) or []
        evidence = [{**e, "text": _pick(e, "what", lang)} for e in f.get("evidence", [])
                    if isinstance(e, dict)]
        feedback = [{**n, "text_shown": _pick(n, "text", lang)} for n in f.get("feedback", [])
                    if isinstance(n, dict)]
        findings.append({**f, "reasons_shown": reasons, "evidence_shown": evidence, "feedback_shown": feedback})
    counts = {s: sum(1 for f in report.get("findings", []) if f.get("severity") == s) for s in SEVERITIES}
    teams = [t for t in report.get("teams", []) if isinstance(t, dict)]
    return {"findings": findings, "counts": counts, "team_names": _team_names(report), "team_rows": teams,
            "agents_scored": report.get("agents_scored")}


def register(app: FastAPI, web: Web) -> None:
    @app.get("/report", include_in_schema=False)
    def report_page(request: Request, date: str = "", team: str = "", severity: str = "") -> Response:
        who = web.who(request)
        day = check_day(date or web.yesterday())
        lang = pick(request)[0]
        try:
            report: dict[str, Any] | None = web.collector.report_for(who, day, remote(request))
        except NotFound:
            report = None
        context: dict[str, Any] = {
            "day": day, "prev_day": shift_day(day, -1), "next_day": shift_day(day, 1), "team": team,
            "severity": severity if severity in SEVERITIES else "", "severities": SEVERITIES,
            "verdicts": VERDICTS, "report": report, "can_review": who.role in REVIEWERS,
            "late_shifts": web.collector.shifts.entered_late(who, day, remote(request)),  # they moved the day
        }
        if report is not None:
            context.update(view(report, team, context["severity"], lang))
        return web.render(request, "report.html", context, who=who)

    @app.post("/report/build", include_in_schema=False)
    async def build_report(request: Request) -> Response:
        who, form = await web.form_who(request)
        day = check_day(form.get("date", ""))
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(web.collector.build_report_for, who, day, remote(request))
        return RedirectResponse(f"/report?date={day}", status_code=303, headers=HEADERS)

    @app.post("/api/v1/reports/{day}/labels", responses=ERRORS)
    def label_finding(day: str, body: LabelRequest, request: Request) -> dict[str, Any]:
        """A reviewer's verdict on one finding: confirmed, benign or follow_up (admin and security)."""
        who = web.who(request)
        web.collector.label_for(who, body.agent_id, day, body.label, body.note, remote(request))
        return {"status": "saved", "agent_id": body.agent_id, "date": day, "label": body.label}
