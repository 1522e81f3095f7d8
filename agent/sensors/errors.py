"""Exceptions raised by :mod:`agent.sensors`.

Every error the sensors raise on purpose derives from :class:`SensorError`, itself an
:class:`agent.errors.AgentError`::

    SensorError
    ├── PolicyError         the policy is malformed (bad type, bad regex, unknown trigger)
    ├── SensorUnavailable   an OS facility a sensor needs is missing here; ``why`` says which, for ``status``
    └── BridgeError         the extension bridge could not listen on its loopback port

Foreign exceptions (Xlib, ctypes, OSError from psutil or sockets) are wrapped at the platform
boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from agent.errors import AgentError


class SensorError(AgentError):
    """Base class of every deliberate sensor error."""


class PolicyError(SensorError):
    """The agent policy is malformed."""


class SensorUnavailable(SensorError):
    """A facility a sensor needs does not exist on this PC or session."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class BridgeError(SensorError):
    """The browser-extension bridge could not be started."""
