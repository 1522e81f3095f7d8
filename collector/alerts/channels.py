"""Delivery channels: a one-method interface, the live-wall channel, and the registry of channels by name.

A channel's :meth:`~Channel.send` takes one payload ``{"event", "delivery_id", "alert"}`` and either
returns (the receiver took it) or raises :class:`~collector.alerts.errors.DeliveryFailed`. Durable
channels (webhook, syslog) have a row per delivery in the outbox and are retried; the wall is
best effort (it reaches the pages open right now).

Channels are registered by name, like sensors and detectors: a channel class has a ``name``, says
whether it is ``durable`` and builds itself from the alert settings with ``from_config`` (None when
its settings leave it off). :func:`build_channels` asks every registered class in order. The
built-ins (``wall``, ``webhook``, ``syslog_udp``, ``syslog_tcp``, ``syslog_tls``) register through
:func:`register_channel` exactly as an extension would; a new channel is one class and one
:func:`register_channel` call (its settings are rows of :data:`collector.config.ALERT_SETTINGS`,
read through :class:`~collector.alerts.config.AlertConfig`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from collector import wall
from collector.alerts.config import AlertConfig
from collector.alerts.errors import AlertConfigError
from collector.alerts.syslog import SyslogTcpChannel, SyslogTlsChannel, SyslogUdpChannel
from collector.alerts.webhook import WebhookChannel

log = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], None]


class Channel(Protocol):
    name: str
    durable: bool

    def send(self, payload: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class ChannelType(Protocol):
    """What :func:`register_channel` takes: a channel class (or any factory with a name)."""

    name: str

    def from_config(self, config: AlertConfig) -> Channel | None: ...


C = TypeVar("C")
CHANNELS: dict[str, ChannelType] = {}


def register_channel(cls: C) -> C:
    """Make a channel class available by its ``name`` (usable as a class decorator); registration order
    is the order :func:`build_channels` builds them in."""
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name or not callable(getattr(cls, "from_config", None)):
        raise AlertConfigError(f"{cls!r} is not a channel class (it needs a name and from_config)")
    existing = CHANNELS.get(name)
    if existing is not None and existing is not cls:
        raise AlertConfigError(f"alert channel name {name!r} is already taken by {existing!r}")
    CHANNELS[name] = cls  # type: ignore[assignment]  # checked above: a name and from_config
    return cls


def unregister_channel(name: str) -> None:
    if CHANNELS.pop(name, None) is None:
        raise AlertConfigError(f"no alert channel named {name!r} (known: {', '.join(CHANNELS)})")


def build_channels(config: AlertConfig) -> list[Channel]:
    """Every registered channel that ``config`` turns on, in registration order."""
    out: list[Channel] = []
    for name, cls in CHANNELS.items():
        channel = cls.from_config(config)
        if channel is not None:
            if channel.name != name:
                raise AlertConfigError(f"alert channel {name!r} built a channel named {channel.name!r}")
            out.append(channel)
    return out


class WallChannel:
    """Pushes alerts to open live-wall pages through ``collector.wall.publish_alert``."""

    name = "wall"
    durable = False

    def __init__(self, publish: Publish | None = None) -> None:
        self.publish = publish

    @classmethod
    def from_config(cls, config: AlertConfig) -> WallChannel | None:
        return cls() if config.wall == "on" else None

    def send(self, payload: dict[str, Any]) -> None:
        (self.publish or wall.publish_alert)(payload)

    def close(self) -> None:
        return None


for _builtin in (WallChannel, WebhookChannel, SyslogUdpChannel, SyslogTcpChannel, SyslogTlsChannel):
    register_channel(_builtin)
BUILTIN_CHANNELS = tuple(CHANNELS)
