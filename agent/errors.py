"""Exceptions raised by the SeatGuard agent package.

Every error the agent raises on purpose derives from :class:`AgentError`::

    AgentError
    ├── ConfigError          bad or missing agent configuration / home folder
    ├── EnrollmentError      the collector refused enrollment, or it could not be reached
    ├── InvalidEvent         an event does not follow schema v1 (carries a readable reason)
    ├── WireError            a sealed batch could not be built or opened (carries a stable ``code``)
    ├── ReceiptError         an answer's receipt or policy is missing, forged or for something else
    └── SpoolError           the on-disk spool could not be used
        └── SpoolFull        the disk is full: the write was refused and counted as dropped

Foreign exceptions (sqlite3, requests, cryptography) are wrapped at the boundary with
``raise ... from exc`` so callers only ever need to catch :class:`AgentError`.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every deliberate agent error."""


class ConfigError(AgentError):
    """The agent's configuration or home folder is missing or invalid."""


class EnrollmentError(AgentError):
    """Enrollment with the collector failed."""


class InvalidEvent(AgentError):
    """An event does not follow event schema v1."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WireError(AgentError):
    """A sealed batch is malformed, forged, tampered with or cannot be opened."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ReceiptError(AgentError):
    """A collector answer is not signed, not signed by a trusted key, or not for what was sent."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SpoolError(AgentError):
    """The spool database could not be read or written."""


class SpoolFull(SpoolError):
    """The disk holding the spool is full; what could not be kept was counted."""
