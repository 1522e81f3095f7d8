"""Administration: enrollment tokens, agents (revoke, re-enroll), teams, users, policy, retention, legal holds.

Every action goes through an admin-only, audited method of :class:`Collector`; a new token or
password is shown once, in the answer to the form that made it.

The policy is also an API (admin only): ``GET /api/v1/policy`` and ``POST /api/v1/policy`` with
``{"policy": {...}, "version": N}``, where ``version`` is the version the edit started from. A
policy saved meanwhile (through any collector process) makes the save a 409 ``conflict``, like the
admin page's form, which carries the version it showed. The GET and the page also name the stored
patterns that the agents and the detectors leave out (:func:`collector.policy.left_out`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from collector.accounts import Principal
from collector.enrollment import ROLES as AGENT_ROLES
from collector.errors import CollectorError
from collector.policy import left_out
from collector.web.site import HEADERS, Web, remote

USER_ROLES = ("manager", "security", "auditor", "agent", "admin")  # the least surprising first
POLICY_ERRORS: dict[int | str, dict[str, Any]] = {c: {"description": "error"} for c in (400, 401, 403, 409)}


class PolicySave(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: dict[str, Any]
    version: int | None = None  # the version the edit started from; omitted: onto whatever is in force


def _page(web: Web, request: Request, who: Principal, status: int = 200, **extra: Any) -> Response:
    data = web.collector.admin_overview(who, remote(request))
    policy_text = extra.pop("policy_text", None) or json.dumps(
        {k: v for k, v in data["policy"].items() if k != "version"}, ensure_ascii=False, indent=2)
    context = {**data, "policy_text": policy_text, "policy_version": data["policy"].get("version"),
               "agent_roles": AGENT_ROLES, "user_roles": USER_ROLES, "prefill_team": request.query_params.get(
                   "team", ""), "done": "done" in request.query_params, **extra}
    return web.render(request, "admin.html", context, status, who=who)


def _done() -> RedirectResponse:
    return RedirectResponse("/admin?done=1", status_code=303, headers=HEADERS)


def register(app: FastAPI, web: Web) -> None:
    c = web.collector

    @app.get("/admin", include_in_schema=False)
    def admin_page(request: Request) -> Response:
        return _page(web, request, web.who(request))

    @app.post("/admin/enroll-token", include_in_schema=False)
    async def enroll_token(request: Request) -> Response:
        who, form = await web.form_who(request)
        try:
            token = c.create_enroll_token_for(who, form.get("team", "").strip(), form.get("role", "agent"),
                                              form.get("shift", "").strip() or None, remote(request))
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message)
        return _page(web, request, who, new_token=token)

    @app.post("/admin/agents/{agent_id}/revoke", include_in_schema=False)
    async def revoke(agent_id: str, request: Request) -> Response:
        who, _form = await web.form_who(request)
        c.revoke_agent_for(who, agent_id, remote(request))
        return _done()

    @app.post("/admin/holds", include_in_schema=False)
    async def set_hold(request: Request) -> Response:
        who, form = await web.form_who(request)
        try:
            c.holds.set_for(who, form.get("agent_id", "").strip(), form.get("reason", ""), remote(request))
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message)
        return _done()

    @app.post("/admin/holds/{agent_id}/lift", include_in_schema=False)
    async def lift_hold(agent_id: str, request: Request) -> Response:
        who, form = await web.form_who(request)
        try:
            c.holds.lift_for(who, agent_id, form.get("reason", ""), remote(request))
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message)
        return _done()

    @app.post("/admin/users", include_in_schema=False)
    async def add_user(request: Request) -> Response:
        who, form = await web.form_who(request)
        teams = [x.strip() for x in form.get("teams", "").split(",") if x.strip()]
        name = form.get("name", "").strip()
        try:
            password = await run_in_threadpool(c.add_user_for, who, name, form.get("role", ""), teams,
                                               form.get("agent_id", "").strip() or None, remote(request))
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message)
        return _page(web, request, who, new_user=name, new_password=password)

    @app.post("/admin/users/{name}/{action}", include_in_schema=False)
    async def user_state(name: str, action: str, request: Request) -> Response:
        who, _form = await web.form_who(request)
        if action not in ("disable", "enable"):
            raise CollectorError(f"unknown action {action!r}", code="not_found", status=404)
        try:
            c.set_user_disabled_for(who, name, action == "disable", remote(request))
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message)
        if action == "disable":
            web.sessions.end_all(name)
        return _done()

    @app.post("/admin/policy", include_in_schema=False)
    async def policy(request: Request) -> Response:
        who, form = await web.form_who(request)
        text = form.get("policy", "")
        base = form.get("version", "").strip()
        try:
            if base and not (base.isascii() and base.isdigit() and len(base) <= 18):
                raise CollectorError("the policy's version must be a whole number (the version you edited)",
                                     code="bad_request", status=400)
            saved = await run_in_threadpool(c.set_policy_for, who, text, remote(request),
                                            int(base) if base else None)
        except CollectorError as exc:
            if exc.status == 403:
                raise
            return _page(web, request, who, exc.status, error=exc.message, policy_text=text)
        return _page(web, request, who, policy_saved=saved.get("version"))

    @app.get("/api/v1/policy", responses=POLICY_ERRORS)
    def read_policy(request: Request) -> dict[str, Any]:
        """The policy in force, with its version (admin); ``left_out``: "key: pattern: why" of each stored
        pattern the agents and the detectors leave out (its matching is not linear)."""
        policy = c.policy_for(web.who(request), remote(request))
        return {"policy": policy, "left_out": left_out(policy)}

    @app.post("/api/v1/policy", responses=POLICY_ERRORS)
    def save_policy(body: PolicySave, request: Request) -> dict[str, Any]:
        """Save a policy as the next version (admin); 409 when ``version`` is no longer the one in force."""
        who = web.who(request)
        return {"policy": c.set_policy_for(who, json.dumps(body.policy), remote(request), body.version)}
