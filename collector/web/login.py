"""Sign in, sign out, and the start page that sends each role to where its work is.

Sign-ins are audited (success and failure, with the client address and, for a failure, its reason).
The form answers a wrong name, a wrong password and an account that is backing off after repeated
failures (:func:`collector.accounts.backoff_s`) with one message. Failed attempts are limited per
client address (429 with Retry-After, :mod:`collector.ratelimit`).
A new session id is issued at every sign-in; sign-out deletes the session on the server.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from collector.accounts import ARGON2_PARALLEL, Principal
from collector.errors import CollectorError, Forbidden, RateLimited, Unauthorized
from collector.ratelimit import retry_after
from collector.web.sessions import LOGIN_COOKIE, SESSION_COOKIE
from collector.web.site import HEADERS, HOME, Web, remote, safe_next


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def register(app: FastAPI, web: Web) -> None:
    # Sign-ins wait for an Argon2 slot here, holding no thread of the pool that ingest runs in.
    argon2_threads = anyio.CapacityLimiter(ARGON2_PARALLEL)

    def form(request: Request, status: int = 200, error: str = "", name: str = "", nxt: str = "") -> Response:
        token = web.sessions.login_token(request)
        response = web.render(request, "login.html", {"error": error, "name": name, "login_csrf": token,
                                                      "next": safe_next(nxt) or "",
                                                      "signed_out": "bye" in request.query_params}, status)
        web.sessions.set_login_cookie(response, request, token)
        return response

    @app.get("/", include_in_schema=False)
    def start(request: Request) -> Response:
        who = web.maybe_who(request)
        response = _redirect(HOME.get(who.role, "/login") if who else "/login")
        web.remember_lang(request, response)
        return response

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "") -> Response:
        who = web.maybe_who(request)
        if who is not None:
            return _redirect(safe_next(next) or HOME.get(who.role, "/report"))
        return form(request, nxt=next)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        name, nxt = fields.get("name", "").strip()[:64], fields.get("next", "")
        try:
            web.sessions.check_login_token(request, fields.get("csrf"))
        except Forbidden:
            return form(request, 403, "login.expired", name, nxt)
        if not web.sessions.may_sign_in(request):
            return form(request, 403, "login.https", name, nxt)
        actor = Principal(name or "-", "anonymous")
        client, signins = remote(request), web.collector.metrics.signins
        try:
            web.collector.login_limit.take(client)
        except RateLimited as exc:
            signins.labels("rate_limited").inc()
            response = form(request, 429, "login.too_many", name, nxt)
            response.headers.update(retry_after(exc))
            return response
        try:
            who = await anyio.to_thread.run_sync(web.collector.accounts.login, name, fields.get("password", ""),
                                                 limiter=argon2_threads)
        except Unauthorized as exc:
            signins.labels("refused").inc()
            web.collector.access.audit(actor, "login", getattr(exc, "reason", exc.code), False, client)
            return form(request, 401, "login.wrong", name, nxt)
        web.collector.login_limit.give_back(client)
        signins.labels("ok").inc()
        sid, _session = web.sessions.create(who.name, remote(request))
        web.collector.access.audit(who, "login", who.name, True, remote(request))
        response = _redirect(safe_next(nxt) or HOME.get(who.role, "/report"))
        web.sessions.set_cookie(response, request, sid)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        try:
            who, _fields = await web.form_who(request)
        except CollectorError:
            return _redirect("/login")
        web.sessions.end(request.cookies.get(SESSION_COOKIE, ""))
        web.collector.access.audit(who, "logout", who.name, True, remote(request))
        response = _redirect("/login?bye=1")
        web.sessions.clear_cookie(response, request)
        return response
