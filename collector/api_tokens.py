"""API tokens for scripts: created for a user, expiring, listed without their secret, revocable.

Only the SHA-256 of a token is stored. A token is named in listings by its *id*, the first
:data:`ID_LEN` hex digits of that digest: enough to tell tokens apart and to revoke one, and no help
in guessing the token itself.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import re
import secrets
import time
from typing import Any

from collector.errors import CollectorError, NotFound, Unauthorized
from collector.storage.base import Store

log = logging.getLogger(__name__)
PREFIX = "sgk_"
ID_LEN = 12
_ID_RE = re.compile(rf"^[0-9a-f]{{{ID_LEN}}}$")
MAX_DAYS = 3660.0


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token_hash: str) -> str:
    return token_hash[:ID_LEN]


class ApiTokens:
    def __init__(self, store: Store, default_days: float) -> None:
        self.rows = store.api_tokens
        self.default_days = default_days

    def create(self, user: str, days: float | None = None) -> tuple[str, dict[str, Any]]:
        """A new token for ``user`` (shown once) and its listing entry."""
        days = self.default_days if days is None else days
        if not 0 < days <= MAX_DAYS:
            raise CollectorError(f"a token lives between a moment and {MAX_DAYS:.0f} days, not {days}",
                                 code="bad_expiry", status=400)
        token = PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        token_hash, expires = digest(token), now + days * 86400
        row: dict[str, Any] = {"token_hash": token_hash, "user": user, "created_at": now, "expires_at": expires}
        if not self.rows.add(token_hash, user, now, expires):
            raise NotFound(f"no user {user!r}")
        log.info("API token %s created for %s, expires in %.0f days", token_id(digest(token)), user, days)
        return token, _entry(row, now)

    def user_of(self, token: str) -> str:
        """The user a live token belongs to; expired, revoked and unknown tokens are all refused alike."""
        now = time.time()
        row = self.rows.get(digest(token))
        if row is None or row["revoked_at"] is not None or row["expires_at"] is None or row["expires_at"] <= now:
            raise Unauthorized("invalid, expired or revoked API token")
        return str(row["user"])

    def list(self, user: str | None = None) -> list[dict[str, Any]]:
        now = time.time()
        return [_entry(row, now) for row in self.rows.all(user)]

    def revoke(self, ident: str | None = None, user: str | None = None) -> builtins.list[str]:
        """Revoke one token by id, or every live token of ``user``; the ids revoked."""
        if (ident is None) == (user is None):
            raise CollectorError("name one token (--id) or one user (--user)", code="bad_request", status=400)
        if ident is not None and not _ID_RE.match(ident):
            raise CollectorError(f"a token id is {ID_LEN} hex digits, as `token list` shows it",
                                 code="bad_request", status=400)
        hashes = self.rows.revoke(time.time(), hash_prefix=ident, user=user)
        if ident is not None and not hashes:
            raise NotFound(f"no live API token {ident}")
        ids = [token_id(h) for h in hashes]
        log.info("API token(s) revoked: %s", ", ".join(ids) or "none")
        return ids


def _entry(row: dict[str, Any], now: float) -> dict[str, Any]:
    """A token as listings show it: never the token, never its full digest."""
    expires = row.get("expires_at")
    if row.get("revoked_at") is not None:
        state = "revoked"
    elif expires is None or expires <= now:
        state = "expired"
    else:
        state = "active"
    return {"id": token_id(str(row["token_hash"])), "user": row["user"], "created_at": row["created_at"],
            "expires_at": expires, "revoked_at": row.get("revoked_at"), "state": state}
