"""People: users with roles and team scopes, passwords (Argon2id), API tokens and lockout."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from collector.errors import CollectorError, Unauthorized
from collector.storage import tables as t
from collector.storage.sql import SqlStore

log = logging.getLogger(__name__)
ROLES = ("admin", "security", "manager", "auditor", "agent")
MAX_FAILURES = 5
LOCKOUT_S = 15 * 60
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    teams: tuple[str, ...] = ()
    agent_id: str | None = None

    def can_see_team(self, team: str) -> bool:
        return self.role in ("admin", "security") or (self.role == "manager" and team in self.teams)


class AccountService:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def add_user(self, name: str, role: str, teams: list[str] | None = None, agent_id: str | None = None,
                 password: str | None = None) -> str:
        if role not in ROLES:
            raise CollectorError(f"role must be one of {', '.join(ROLES)}", code="bad_role", status=400)
        if role == "manager" and not teams:
            raise CollectorError("a manager needs at least one --team", code="bad_role", status=400)
        password = password or secrets.token_urlsafe(12)
        exists = CollectorError(f"user {name!r} already exists", code="user_exists", status=409)
        try:
            with self.store._write() as conn:
                if conn.execute(select(t.users.c.name).where(t.users.c.name == name)).first():
                    raise exists
                conn.execute(insert(t.users).values(name=name, role=role, teams=",".join(teams or []),
                                                    agent_id=agent_id, password_hash=_hasher.hash(password),
                                                    failed=0, created_at=time.time(), disabled=False))
        except IntegrityError as exc:  # another collector process added the same name at the same moment
            raise exists from exc
        log.info("user %s added with role %s", name, role)
        return password

    def _principal(self, row: object) -> Principal:
        teams = tuple(x for x in str(getattr(row, "teams", "") or "").split(",") if x)
        return Principal(str(getattr(row, "name")), str(getattr(row, "role")), teams,  # noqa: B009
                         getattr(row, "agent_id", None))

    def login(self, name: str, password: str) -> Principal:
        now = time.time()
        with self.store._write() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
            if row is None or row.disabled:
                _hasher.hash(password)  # same cost whether or not the user exists
                raise Unauthorized("wrong user name or password")
            if row.locked_until and row.locked_until > now:
                raise Unauthorized("account locked after repeated failures; try again later", code="locked")
            try:
                _hasher.verify(row.password_hash, password)
                ok = True
            except (VerificationError, InvalidHashError):
                ok = False
            values: dict[str, object] = {"failed": 0, "locked_until": None}
            if not ok:
                values = {"failed": int(row.failed) + 1}
                if int(row.failed) + 1 >= MAX_FAILURES:
                    values.update(failed=0, locked_until=now + LOCKOUT_S)
                    log.warning("user %s locked after %d failed logins", name, MAX_FAILURES)
            conn.execute(update(t.users).where(t.users.c.name == name).values(**values))
        # raised only after the transaction committed: a failure must be counted, not rolled back
        if not ok:
            raise Unauthorized("wrong user name or password")
        return self._principal(row)

    def create_token(self, name: str) -> str:
        token = "sgk_" + secrets.token_urlsafe(32)
        with self.store._write() as conn:
            if conn.execute(select(t.users.c.name).where(t.users.c.name == name)).first() is None:
                raise CollectorError(f"no user {name!r}", code="not_found", status=404)
            conn.execute(insert(t.api_tokens).values(token_hash=_digest(token), user=name, created_at=time.time()))
        return token

    def from_token(self, token: str) -> Principal:
        with self.store._read() as conn:
            row = conn.execute(
                select(t.users).join(t.api_tokens, t.api_tokens.c.user == t.users.c.name)
                .where(t.api_tokens.c.token_hash == _digest(token), t.api_tokens.c.revoked_at.is_(None))
            ).first()
        if row is None or row.disabled:
            raise Unauthorized("invalid or revoked API token")
        return self._principal(row)

    def principal_for(self, name: str) -> Principal:
        """The current role and scope of ``name`` (a web session re-reads it on every request)."""
        with self.store._read() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        if row is None or row.disabled:
            raise Unauthorized("this account no longer exists or was disabled")
        return self._principal(row)

    def list_users(self) -> list[dict[str, Any]]:
        now = time.time()
        with self.store._read() as conn:
            rows = conn.execute(select(t.users).order_by(t.users.c.name)).all()
        return [{"name": r.name, "role": r.role, "teams": [x for x in (r.teams or "").split(",") if x],
                 "agent_id": r.agent_id, "disabled": bool(r.disabled),
                 "locked": bool(r.locked_until and r.locked_until > now), "created_at": r.created_at}
                for r in rows]

    def set_disabled(self, name: str, disabled: bool) -> None:
        with self.store._write() as conn:
            res = conn.execute(update(t.users).where(t.users.c.name == name).values(disabled=disabled))
        if not res.rowcount:
            raise CollectorError(f"no user {name!r}", code="not_found", status=404)
        log.info("user %s %s", name, "disabled" if disabled else "enabled")

    def has_users(self) -> bool:
        with self.store._read() as conn:
            return conn.execute(select(t.users.c.name).limit(1)).first() is not None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
