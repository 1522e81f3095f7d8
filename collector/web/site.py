"""What every page shares: who is asking, rendering in their language, errors as pages, headers."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from collector.accounts import Principal
from collector.errors import CollectorError, NotFound, Unauthorized
from collector.service import Collector
from collector.web import i18n
from collector.web.sessions import SessionManager, remote_of

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
HOME = {"admin": "/report", "security": "/report", "manager": "/report", "auditor": "/audit", "agent": "/me"}
NAV = (("/report", "nav.report", ("admin", "security", "manager")),
       ("/wall", "nav.wall", ("admin", "security", "manager")),
       ("/alerts", "nav.alerts", ("admin", "security", "manager")),
       ("/audit", "nav.audit", ("admin", "security", "auditor")),
       ("/shifts", "nav.shifts", ("admin", "security", "manager")),
       ("/me", "nav.me", ("agent",)),
       ("/admin", "nav.admin", ("admin",)))


class Web:
    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        settings = collector.settings
        self.sessions = SessionManager(collector.store, collector.accounts, settings.session_idle_min * 60,
                                       settings.cookie_secure)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(clock=self.clock, when=self.when, duration=duration)

    # -- who is asking ------------------------------------------------------------------------------------
    def who(self, request: Request, csrf: str | None = None) -> Principal:
        """A bearer API token or the session cookie (with its CSRF token on state-changing requests)."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return self.collector.accounts.from_token(auth[7:].strip())
        return self.sessions.principal(request, csrf)

    def maybe_who(self, request: Request) -> Principal | None:
        try:
            return self.who(request) if request.method == "GET" else None
        except CollectorError:
            return None

    async def form_who(self, request: Request) -> tuple[Principal, dict[str, str]]:
        """A form POST: its fields, and the signed-in user once the form's CSRF token checks out."""
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return self.who(request, fields.get("csrf", "")), fields

    # -- dates and times ----------------------------------------------------------------------------------
    def today(self) -> str:
        return datetime.now(self.collector.settings.tz).date().isoformat()

    def yesterday(self) -> str:
        return (datetime.now(self.collector.settings.tz).date() - timedelta(days=1)).isoformat()

    def clock(self, ts: str | None) -> str:
        return clock(ts, self.collector.settings.tz)

    def when(self, epoch: float | None) -> str:
        return when(epoch, self.collector.settings.tz)

    # -- responses ----------------------------------------------------------------------------------------
    def remember_lang(self, request: Request, response: Response) -> None:
        lang, remember = i18n.pick(request)
        if remember:
            response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="lax",
                                secure=self.sessions.secure(request))

    def render(self, request: Request, template: str, context: dict[str, Any], status: int = 200,
               who: Principal | None = None) -> HTMLResponse:
        lang, remember = i18n.pick(request)
        session = self.sessions.current(request)
        nav = [(href, key) for href, key, roles in NAV if who is not None and who.role in roles]
        other = "en" if lang == "zh-CN" else "zh-CN"
        params = {**request.query_params, "lang": other}
        lang_url = (request.url.path if request.method == "GET" else "/") + "?" + urlencode(params)
        page = self.env.get_template(template).render(
            t=i18n.Translator(lang), lang=lang, lang_url=lang_url, who=who,
            csrf=session.csrf if session else "", nav=nav, path=request.url.path, **context)
        response = HTMLResponse(page, status_code=status, headers=HEADERS)
        if remember:
            self.remember_lang(request, response)
        return response

    def error_page(self, request: Request, exc: CollectorError) -> Response:
        if isinstance(exc, Unauthorized):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303, headers=HEADERS)
        key = {403: "error.csrf" if exc.code == "csrf" else "error.403", 404: "error.404"}.get(exc.status,
                                                                                                "error.other")
        return self.render(request, "error.html", {"message_key": key, "detail": exc.message},
                           status=exc.status, who=self.maybe_who(request))


def clock(ts: str | None, tz: tzinfo) -> str:
    """An event's time of day in the collector's zone (templates' ``clock`` filter)."""
    if not ts:
        return "—"
    try:
        return datetime.fromisoformat(ts).astimezone(tz).strftime("%H:%M:%S")
    except ValueError:
        return ts


def when(epoch: float | None, tz: tzinfo) -> str:
    """An epoch moment as a local date and time (templates' ``when`` filter)."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(float(epoch), tz).strftime("%Y-%m-%d %H:%M:%S")


def remote(request: Request) -> str | None:
    return remote_of(request)


def check_day(day: str) -> str:
    try:
        return date.fromisoformat(day).isoformat()
    except ValueError as exc:
        raise NotFound(f"not a date: {day!r} (expected YYYY-MM-DD)") from exc


def shift_day(day: str, days: int) -> str:
    """The day ``days`` away, or ``day`` itself past the calendar's first or last day (a page's links)."""
    try:
        return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
    except OverflowError:
        return day


def duration(seconds: Any) -> str:
    try:
        s = int(round(float(seconds)))
    except (TypeError, ValueError):
        return "—"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no backslash tricks) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
