"""People's accounts (table ``users``): the repository :class:`collector.accounts.AccountService` uses.

A row is one person: role, team scope (stored comma-separated), the agent_id that is this person
(role ``agent``), the Argon2 hash of their password, the sign-in failures in a row and the backoff
they caused, and whether the account is disabled. Passwords, roles and backoff rules are the
service's; this module only keeps and finds the rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from collector.storage import tables as t
from collector.storage.connections import Connections


@dataclass(frozen=True)
class User:
    name: str
    role: str
    teams: tuple[str, ...]
    agent_id: str | None
    password_hash: str
    failed: int
    locked_until: float | None
    created_at: float
    disabled: bool


class AccountRepo(ABC):
    @abstractmethod
    def add(self, user: User) -> bool:
        """Store a new account; False when the name is taken (also by a concurrent add elsewhere)."""

    @abstractmethod
    def get(self, name: str) -> User | None: ...

    @abstractmethod
    def all(self) -> list[User]:
        """Every account, by name."""

    @abstractmethod
    def any(self) -> bool:
        """Is there at least one account?"""

    @abstractmethod
    def set_disabled(self, name: str, disabled: bool) -> bool:
        """False when there is no such account."""

    @abstractmethod
    def clear_failures(self, name: str) -> None:
        """A successful sign-in: no failures in a row, no backoff."""

    @abstractmethod
    def count_failure(self, name: str, now: float, cap: int,
                      backoff_s: Callable[[int], float]) -> tuple[int, float] | None:
        """One more wrong password (at most ``cap`` counted); when ``backoff_s(failures)`` is positive the
        account backs off until ``now`` plus that. Read and write are one transaction. Returns
        (failures, backoff) or None when the account is gone."""


class SqlAccountRepo(AccountRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def add(self, user: User) -> bool:
        u = t.users.c
        try:
            with self.db._write() as conn:
                if conn.execute(select(u.name).where(u.name == user.name)).first():
                    return False
                conn.execute(insert(t.users).values(_row(user)))
        except IntegrityError:  # another collector process added the same name at the same moment
            return False
        return True

    def get(self, name: str) -> User | None:
        with self.db._read() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return None if row is None else _user(row._mapping)

    def all(self) -> list[User]:
        with self.db._read() as conn:
            return [_user(r._mapping) for r in conn.execute(select(t.users).order_by(t.users.c.name))]

    def any(self) -> bool:
        with self.db._read() as conn:
            return conn.execute(select(t.users.c.name).limit(1)).first() is not None

    def set_disabled(self, name: str, disabled: bool) -> bool:
        with self.db._write() as conn:
            return bool(conn.execute(update(t.users).where(t.users.c.name == name)
                                     .values(disabled=disabled)).rowcount)

    def clear_failures(self, name: str) -> None:
        with self.db._write() as conn:
            conn.execute(update(t.users).where(t.users.c.name == name).values(failed=0, locked_until=None))

    def count_failure(self, name: str, now: float, cap: int,
                      backoff_s: Callable[[int], float]) -> tuple[int, float] | None:
        u = t.users.c
        with self.db._write() as conn:
            failed = conn.execute(select(u.failed).where(u.name == name)).scalar()
            if failed is None:  # removed meanwhile
                return None
            failed = min(int(failed) + 1, cap)
            values: dict[str, object] = {"failed": failed}
            delay = backoff_s(failed)
            if delay:
                values["locked_until"] = now + delay
            conn.execute(update(t.users).where(u.name == name).values(**values))
        return failed, delay


def _row(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "teams": ",".join(user.teams), "agent_id": user.agent_id,
            "password_hash": user.password_hash, "failed": user.failed, "locked_until": user.locked_until,
            "created_at": user.created_at, "disabled": user.disabled}


def _user(row: Any) -> User:
    return User(str(row["name"]), str(row["role"]), tuple(x for x in str(row["teams"] or "").split(",") if x),
                row["agent_id"], str(row["password_hash"]), int(row["failed"] or 0), row["locked_until"],
                float(row["created_at"]), bool(row["disabled"]))
