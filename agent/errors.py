"""Exceptions raised by the SeatGuard agent package.

Every error the agent raises on purpose derives from :class:`AgentError`::

    AgentError
    ├── ConfigError          bad or missing agent configuration / home folder
    ├── EnrollmentError      the collector refused enrollment, or it could not be reached
    └── SpoolError           the on-disk spool could not be used
        └── SpoolFull        the disk is full: the write was refused and counted as dropped

What the agent shares with the collector (an invalid event, a bad sealed batch, a forged receipt) raises
the contract's errors (:mod:`contract.errors`: ``InvalidEvent``, ``WireError``, ``ReceiptError``).
Foreign exceptions (sqlite3, urllib3, cryptography) are wrapped at the boundary with
``raise ... from exc`` so callers only ever need to catch :class:`AgentError` or
:class:`contract.errors.ContractError`.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every deliberate agent error."""


class ConfigError(AgentError):
    """The agent's configuration or home folder is missing or invalid."""


class EnrollmentError(AgentError):
    """Enrollment with the collector failed."""


class SpoolError(AgentError):
    """The spool database could not be read or written."""


class SpoolFull(SpoolError):
    """The disk holding the spool is full; what could not be kept was counted."""
