"""Web sessions: a random id in a cookie, the session itself on the server, CSRF per session.

- The cookie holds only a random id (256 bits); the database keeps its SHA-256, the user name, the
  session's CSRF token and when it was last used. It is HttpOnly, SameSite=Strict, path ``/``, and
  Secure whenever the UI is served over https (``cookie_secure``: ``auto`` | ``always`` | ``never``;
  ``auto`` allows plain http only to a loopback client, for the demo and tests).
- A session ends after ``session_idle_min`` minutes without a request, after :data:`ABSOLUTE_S`
  in any case, and on logout. The user's role and teams are re-read on every request, so a disabled
  account or a changed scope takes effect at once.
- Every state-changing request made with the cookie must carry the session's CSRF token: forms in
  a hidden ``csrf`` field, JSON calls from the UI in the ``X-CSRF-Token`` header. Bearer-token
  calls (scripts) carry no cookie and need none. The login form has its own double-submit token.

Sessions live in the shared database (table ``web_sessions``), so several collector processes
behind one load balancer accept each other's sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, delete, insert, or_, select, update
from starlette.requests import Request
from starlette.responses import Response

from collector.accounts import AccountService, Principal
from collector.errors import Forbidden, Unauthorized
from collector.storage.sql import SqlStore

log = logging.getLogger(__name__)
SESSION_COOKIE = "seatguard_session"
LOGIN_COOKIE = "seatguard_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
ABSOLUTE_S = 12 * 3600.0
TOUCH_EVERY_S = 60.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURE_MODES = ("auto", "always", "never")
_UNSET = object()

_metadata = MetaData()
web_sessions = Table(
    "web_sessions", _metadata,
    Column("sid_hash", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
    Column("remote", String(64)),
)


@dataclass(frozen=True)
class Session:
    sid_hash: str
    user: str
    csrf: str
    created_at: float
    seen_at: float


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def is_loopback(host: str | None) -> bool:
    if host in ("localhost", "testclient"):
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SessionManager:
    def __init__(self, store: SqlStore, accounts: AccountService, idle_s: float = 1800.0,
                 secure: str = "auto") -> None:
        if secure not in SECURE_MODES:
            raise ValueError(f"cookie_secure must be one of {', '.join(SECURE_MODES)}")
        self.store = store
        self.accounts = accounts
        self.idle_s = idle_s
        self.secure_mode = secure
        with store._write() as conn:
            _metadata.create_all(conn)

    # -- the session table -------------------------------------------------------------------------------
    def create(self, user: str, remote: str | None) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(_digest(sid), user, secrets.token_urlsafe(32), now, now)
        with self.store._write() as conn:
            conn.execute(delete(web_sessions).where(or_(web_sessions.c.seen_at < now - self.idle_s,
                                                        web_sessions.c.created_at < now - ABSOLUTE_S)))
            conn.execute(insert(web_sessions).values(sid_hash=session.sid_hash, user=user, csrf=session.csrf,
                                                     created_at=now, seen_at=now, remote=(remote or "")[:64]))
        return sid, session

    def lookup(self, sid: str) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        key = _digest(sid)
        with self.store._read() as conn:
            row = conn.execute(select(web_sessions).where(web_sessions.c.sid_hash == key)).first()
        if row is None:
            return None
        now = time.time()
        if now - row.seen_at > self.idle_s or now - row.created_at > ABSOLUTE_S:
            self._delete(web_sessions.c.sid_hash == key)
            return None
        if now - row.seen_at > TOUCH_EVERY_S:
            with self.store._write() as conn:
                conn.execute(update(web_sessions).where(web_sessions.c.sid_hash == key).values(seen_at=now))
        return Session(row.sid_hash, row.user, row.csrf, row.created_at, now)

    def end(self, sid: str) -> None:
        self._delete(web_sessions.c.sid_hash == _digest(sid))

    def end_all(self, user: str) -> None:
        self._delete(web_sessions.c.user == user)

    def _delete(self, where: Any) -> None:
        with self.store._write() as conn:
            conn.execute(delete(web_sessions).where(where))

    # -- requests ------------------------------------------------------------------------------------------
    def current(self, request: Request) -> Session | None:
        """The request's live session (looked up once per request)."""
        cached = getattr(request.state, "seatguard_session", _UNSET)
        if cached is _UNSET:
            cached = self.lookup(request.cookies.get(SESSION_COOKIE, ""))
            request.state.seatguard_session = cached
        return cached if isinstance(cached, Session) else None

    def principal(self, request: Request, csrf: str | None = None) -> Principal:
        """The signed-in user; on a state-changing request the CSRF token must match too."""
        session = self.current(request)
        if session is None:
            raise Unauthorized("sign in, or send Authorization: Bearer <token>")
        if request.method not in SAFE_METHODS:
            self.check_csrf(session, csrf if csrf is not None else request.headers.get(CSRF_HEADER))
        return self.accounts.principal_for(session.user)

    @staticmethod
    def check_csrf(session: Session, token: str | None) -> None:
        if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
            raise Forbidden("missing or wrong CSRF token: reload the page and try again", code="csrf")

    # -- cookies --------------------------------------------------------------------------------------------
    def secure(self, request: Request) -> bool:
        if self.secure_mode != "auto":
            return self.secure_mode == "always"
        return request.url.scheme == "https"

    def may_sign_in(self, request: Request) -> bool:
        """Refuse to hand out a session over plain http to anyone but a loopback client (``auto``)."""
        if self.secure_mode != "auto" or request.url.scheme == "https":
            return True
        return is_loopback(remote_of(request))

    def set_cookie(self, response: Response, request: Request, sid: str) -> None:
        response.set_cookie(SESSION_COOKIE, sid, path="/", httponly=True, samesite="strict",
                            secure=self.secure(request))

    def clear_cookie(self, response: Response, request: Request) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=self.secure(request))

    @staticmethod
    def login_token(request: Request) -> str:
        """A double-submit token for the login form (there is no session yet to hold one)."""
        token = request.cookies.get(LOGIN_COOKIE, "")
        return token if 20 <= len(token) <= 100 else secrets.token_urlsafe(24)

    def set_login_cookie(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
                            secure=self.secure(request))

    @staticmethod
    def check_login_token(request: Request, token: str | None) -> None:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not token or not hmac.compare_digest(cookie.encode(), token.encode()):
            raise Forbidden("the sign-in form expired: reload the page and try again", code="csrf")
