"""Web sessions: a random id in a cookie, the session itself on the server, CSRF per session.

- The cookie holds only a random id (256 bits); the server keeps a hash of it with the user name,
  the session's CSRF token and when it was last used (rows ``sess:<hash>`` of the shared ``kv``
  table, so no schema change and several collector processes accept each other's sessions). The
  cookie is HttpOnly, SameSite=Strict, path ``/``, and Secure whenever the UI is served over https
  (``cookie_secure``: ``auto`` | ``always`` | ``never``; ``auto`` lets only a loopback client sign
  in over plain http, for the demo and tests).
- A session ends after ``session_idle_min`` minutes without a request, after :data:`ABSOLUTE_S`
  in any case, and on logout. The user's role and teams are re-read on every request, so a disabled
  account or a changed scope takes effect at once.
- Every state-changing request made with the cookie must carry the session's CSRF token: forms in
  a hidden ``csrf`` field, JSON calls from the UI in the ``X-CSRF-Token`` header. Bearer-token
  calls (scripts) carry no cookie and need none. The login form has its own double-submit token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson
from starlette.requests import Request
from starlette.responses import Response

from collector.accounts import AccountService, Principal
from collector.errors import Forbidden, Unauthorized
from collector.storage.base import Store

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

PREFIX = "sess:"  # + 59 hex digits of the id's SHA-256: fits the kv key column (64)


@dataclass(frozen=True)
class Session:
    key: str
    user: str
    csrf: str
    created_at: float
    seen_at: float


def _key(sid: str) -> str:
    return PREFIX + hashlib.sha256(sid.encode()).hexdigest()[:59]


def _dump(session: Session, remote: str | None = None) -> str:
    return orjson.dumps({"user": session.user, "csrf": session.csrf, "created_at": session.created_at,
                         "seen_at": session.seen_at, "remote": remote}).decode()


def _load(key: str, raw: str | None) -> Session | None:
    if raw is None:
        return None
    try:
        d = orjson.loads(raw)
        return Session(key, str(d["user"]), str(d["csrf"]), float(d["created_at"]), float(d["seen_at"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("unreadable web session %s dropped", key[:12])
        return None


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SessionManager:
    def __init__(self, store: Store, accounts: AccountService, idle_s: float = 1800.0,
                 secure: str = "auto") -> None:
        if secure not in SECURE_MODES:
            raise ValueError(f"cookie_secure must be one of {', '.join(SECURE_MODES)}")
        self.rows = store.sessions
        self.accounts = accounts
        self.idle_s = idle_s
        self.secure_mode = secure

    # -- the sessions kept on the server -----------------------------------------------------------------
    def create(self, user: str, remote: str | None) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(_key(sid), user, secrets.token_urlsafe(32), now, now)
        self._purge(lambda s: self._expired(s, now))
        self.rows.add(session.key, _dump(session, remote))
        return sid, session

    def lookup(self, sid: str) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        key = _key(sid)
        session = _load(key, self.rows.get(key))
        if session is None:
            return None
        now = time.time()
        if self._expired(session, now):
            self._delete([key])
            return None
        if now - session.seen_at > TOUCH_EVERY_S:
            session = replace(session, seen_at=now)
            self.rows.replace(key, _dump(session))
        return session

    def end(self, sid: str) -> None:
        self._delete([_key(sid)])

    def end_all(self, user: str) -> None:
        self._purge(lambda s: s.user == user)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen_at > self.idle_s or now - session.created_at > ABSOLUTE_S

    def _purge(self, doomed: Callable[[Session], bool]) -> None:
        sessions = [_load(k, v) for k, v in self.rows.with_prefix(PREFIX)]
        self._delete([s.key for s in sessions if s is not None and doomed(s)])

    def _delete(self, keys: list[str]) -> None:
        self.rows.drop(keys)

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
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True,
                            samesite="strict", secure=self.secure(request))

    @staticmethod
    def check_login_token(request: Request, token: str | None) -> None:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not token or not hmac.compare_digest(cookie.encode(), token.encode()):
            raise Forbidden("the sign-in form expired: reload the page and try again", code="csrf")
