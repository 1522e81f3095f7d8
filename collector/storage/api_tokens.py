"""API tokens (table ``api_tokens``): the repository :class:`collector.api_tokens.ApiTokens` uses.

A row is the SHA-256 of one token (never the token), the user it belongs to, when it was made,
when it expires and when it was revoked. Which tokens are live is decided by the caller's clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import insert, select, update

from collector.storage import tables as t
from collector.storage.connections import Connections


class ApiTokenRepo(ABC):
    @abstractmethod
    def add(self, token_hash: str, user: str, created_at: float, expires_at: float) -> bool:
        """Store a token of ``user``; False (nothing stored) when there is no such user."""

    @abstractmethod
    def get(self, token_hash: str) -> dict[str, Any] | None:
        """The row: token_hash, user, created_at, expires_at, revoked_at."""

    @abstractmethod
    def all(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every token's row (of ``user`` only), oldest first."""

    @abstractmethod
    def revoke(self, now: float, hash_prefix: str | None = None, user: str | None = None) -> list[str]:
        """Revoke the unrevoked tokens whose hash starts with ``hash_prefix``, or every unrevoked token of
        ``user`` that has not expired by ``now``; returns their hashes."""


class SqlApiTokenRepo(ApiTokenRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def add(self, token_hash: str, user: str, created_at: float, expires_at: float) -> bool:
        with self.db._write() as conn:
            if conn.execute(select(t.users.c.name).where(t.users.c.name == user)).first() is None:
                return False
            conn.execute(insert(t.api_tokens).values(token_hash=token_hash, user=user, created_at=created_at,
                                                     expires_at=expires_at))
        return True

    def get(self, token_hash: str) -> dict[str, Any] | None:
        with self.db._read() as conn:
            row = conn.execute(select(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash)).first()
        return None if row is None else dict(row._mapping)

    def all(self, user: str | None = None) -> list[dict[str, Any]]:
        query = select(t.api_tokens).order_by(t.api_tokens.c.created_at)
        if user:
            query = query.where(t.api_tokens.c.user == user)
        with self.db._read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def revoke(self, now: float, hash_prefix: str | None = None, user: str | None = None) -> list[str]:
        tok = t.api_tokens.c
        query = select(tok.token_hash).where(tok.revoked_at.is_(None))
        if hash_prefix is not None:
            query = query.where(tok.token_hash.startswith(hash_prefix))
        else:
            query = query.where(tok.user == user, tok.expires_at > now)
        with self.db._write() as conn:
            hashes = [str(r[0]) for r in conn.execute(query)]
            if hashes:
                conn.execute(update(t.api_tokens).where(tok.token_hash.in_(hashes)).values(revoked_at=now))
        return hashes
