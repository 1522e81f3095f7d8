"""Exceptions raised by the SeatGuard collector package.

Every deliberate error derives from :class:`CollectorError` and carries the HTTP status and a
stable machine-readable ``code``; the HTTP layer turns any of them into the one error shape
``{"error": {"code": ..., "message": ...}}``::

    CollectorError (500 internal)
    ├── ConfigError (500 config)            bad collector configuration or data folder
    │   └── AlertConfigError                an alert setting is invalid (raised at start-up)
    ├── StorageError (503 storage)          the database is unavailable (agents retry)
    ├── Rejected (4xx, code per reason)     an ingest request refused: bad_signature, unknown_agent,
    │                                        revoked_agent, tampered_ciphertext, timestamp_out_of_window,
    │                                        too_large, too_many_events, inflate_ratio, too_many_values, malformed,
    │                                        bad_hash, batch_conflict
    ├── EnrollmentRefused (400/409)         invalid, used or expired token; agent_id taken
    ├── Unauthorized (401 unauthorized)     no or bad credentials
    │   └── SignInRefused                   wrong name or password, disabled, backing off: one message
    ├── RateLimited (429 rate_limited)      too many attempts from one client; Retry-After says when
    ├── Forbidden (403 forbidden)           outside the caller's role or team scope
    ├── NotFound (404 not_found)
    └── Conflict (409 conflict)             a save based on a version someone else replaced meanwhile
"""

from __future__ import annotations


class CollectorError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ConfigError(CollectorError):
    code = "config"


class AlertConfigError(ConfigError):
    """An alert setting is invalid (collector.config.AlertConfig; re-exported by collector.alerts.errors)."""


class StorageError(CollectorError):
    status = 503
    code = "storage"


REJECT_STATUS = {
    "too_large": 413,
    "too_many_events": 413,
    "inflate_ratio": 413,
    "too_many_values": 413,
    "malformed": 400,
    "bad_hash": 400,
    "bad_signature": 401,
    "unknown_agent": 401,
    "revoked_agent": 403,
    "tampered_ciphertext": 400,
    "timestamp_out_of_window": 400,
    "batch_conflict": 409,
    "blob_quota": 429,
    "blob_rate": 429,
}


class Rejected(CollectorError):
    """An ingest request that is refused as a whole; nothing of it is stored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, status=REJECT_STATUS.get(code, 400))


class EnrollmentRefused(CollectorError):
    status = 400
    code = "enrollment_refused"


class Unauthorized(CollectorError):
    status = 401
    code = "unauthorized"


class SignInRefused(Unauthorized):
    """A refused sign-in. The caller learns nothing but this; ``reason`` is for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__("wrong user name or password")
        self.reason = reason


class RateLimited(CollectorError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Forbidden(CollectorError):
    status = 403
    code = "forbidden"


class NotFound(CollectorError):
    status = 404
    code = "not_found"


class Conflict(CollectorError):
    """A compare-and-set lost: the caller edited a version that another save replaced meanwhile."""

    status = 409
    code = "conflict"
