"""People: users with roles and team scopes, passwords (Argon2id), API tokens and sign-in backoff."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from collector.api_tokens import ApiTokens
from collector.errors import CollectorError, SignInRefused, Unauthorized
from collector.storage.accounts import User
from collector.storage.base import Store

log = logging.getLogger(__name__)
ROLES = ("admin", "security", "manager", "auditor", "agent")
MAX_FAILURES = 5  # wrong passwords in a row before sign-in starts to back off
BACKOFF_BASE_S = 30.0  # the first wait; it doubles with every further failure ...
BACKOFF_MAX_S = 15 * 60.0  # ... up to this: nobody can lock an account for longer
FAILURES_CAP = 1000
_hasher = PasswordHasher()
# Argon2 is built to be slow; however many sign-ins arrive at once, at most this many run it together,
# so that a burst of them leaves CPU for ingest (the others wait their turn, outside any transaction).
ARGON2_PARALLEL = max(1, (os.cpu_count() or 2) // 2)
_argon2_slots = threading.BoundedSemaphore(ARGON2_PARALLEL)


def backoff_s(failed: int) -> float:
    """How long sign-in waits after ``failed`` wrong passwords in a row (0: not yet)."""
    if failed < MAX_FAILURES:
        return 0.0
    return min(BACKOFF_BASE_S * 2.0 ** min(failed - MAX_FAILURES, 32), BACKOFF_MAX_S)


@functools.cache
def _dummy_hash() -> str:
    """What an unknown name is checked against, so that it costs what a real account costs."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    with _argon2_slots:
        try:
            return bool(_hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    teams: tuple[str, ...] = ()
    agent_id: str | None = None

    def can_see_team(self, team: str) -> bool:
        return self.role in ("admin", "security") or (self.role == "manager" and team in self.teams)


CLI = Principal("cli", "admin")
"""Who the command line acts as: the data folder's owner, with an admin's role (audited as actor ``cli``)."""


class AccountService:
    def __init__(self, store: Store, token_days: float = 90.0) -> None:
        self.users = store.accounts
        self.tokens = ApiTokens(store, token_days)

    def add_user(self, name: str, role: str, teams: list[str] | None = None, agent_id: str | None = None,
                 password: str | None = None) -> str:
        if role not in ROLES:
            raise CollectorError(f"role must be one of {', '.join(ROLES)}", code="bad_role", status=400)
        if role == "manager" and not teams:
            raise CollectorError("a manager needs at least one --team", code="bad_role", status=400)
        password = password or secrets.token_urlsafe(12)
        user = User(name, role, tuple(teams or ()), agent_id, _hasher.hash(password), 0, None, time.time(), False)
        if not self.users.add(user):
            raise CollectorError(f"user {name!r} already exists", code="user_exists", status=409)
        log.info("user %s added with role %s", name, role)
        return password

    @staticmethod
    def _principal(user: User) -> Principal:
        return Principal(user.name, user.role, user.teams, user.agent_id)

    def login(self, name: str, password: str) -> Principal:
        """Check a password; Argon2 runs outside any write transaction, the outcome is one short write.

        Wrong name, wrong password, a disabled account and one backing off all raise the same
        :class:`SignInRefused` (its ``reason`` is for the audit log only), after the same Argon2 work.
        """
        user = self.users.get(name)
        if user is None or user.disabled:
            _verify(_dummy_hash(), password)
            raise SignInRefused("unknown_user" if user is None else "disabled")
        if user.locked_until and user.locked_until > time.time():
            _verify(_dummy_hash(), password)  # not even a right password is tried while backing off
            raise SignInRefused("backoff")
        if not _verify(user.password_hash, password):
            self._count_failure(name)
            raise SignInRefused("wrong_password")
        if user.failed or user.locked_until:
            self.users.clear_failures(name)
        return self._principal(user)

    def _count_failure(self, name: str) -> None:
        counted = self.users.count_failure(name, time.time(), FAILURES_CAP, backoff_s)
        if counted is not None and counted[1]:
            log.warning("user %s: %d failed sign-ins in a row, next attempt in %.0f s", name, *counted)

    def create_token(self, name: str, days: float | None = None) -> str:
        return self.tokens.create(name, days)[0]

    def from_token(self, token: str) -> Principal:
        name = self.tokens.user_of(token)
        try:
            return self.principal_for(name)
        except Unauthorized:
            raise Unauthorized("invalid, expired or revoked API token") from None

    def principal_for(self, name: str) -> Principal:
        """The current role and scope of ``name`` (a web session re-reads it on every request)."""
        user = self.users.get(name)
        if user is None or user.disabled:
            raise Unauthorized("this account no longer exists or was disabled")
        return self._principal(user)

    def list_users(self) -> list[dict[str, Any]]:
        now = time.time()
        return [{"name": u.name, "role": u.role, "teams": list(u.teams), "agent_id": u.agent_id,
                 "disabled": u.disabled, "locked": bool(u.locked_until and u.locked_until > now),
                 "created_at": u.created_at} for u in self.users.all()]

    def set_disabled(self, name: str, disabled: bool) -> None:
        if not self.users.set_disabled(name, disabled):
            raise CollectorError(f"no user {name!r}", code="not_found", status=404)
        log.info("user %s %s", name, "disabled" if disabled else "enabled")

    def has_users(self) -> bool:
        return self.users.any()
