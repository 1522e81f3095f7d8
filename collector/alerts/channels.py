"""Delivery channels: a one-method interface, the live-wall channel, and building them from config.

A channel's :meth:`~Channel.send` takes one payload ``{"event", "delivery_id", "alert"}`` and either
returns (the receiver took it) or raises :class:`~collector.alerts.errors.DeliveryFailed`. Durable
channels (webhook, syslog) have a row per delivery in the outbox and are retried; the wall is
best effort (it reaches the pages open right now).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from collector.alerts.config import AlertConfig, host_port

log = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], None]


class Channel(Protocol):
    name: str
    durable: bool

    def send(self, payload: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class WallChannel:
    """Pushes alerts to open live-wall pages through ``collector.wall.publish_alert`` when the wall
    offers it; until then it wakes the wall's listeners for the alert's agent (``notify_ingest``)."""

    name = "wall"
    durable = False

    def __init__(self, publish: Publish | None = None) -> None:
        self.publish = publish

    def send(self, payload: dict[str, Any]) -> None:
        from collector import wall

        publish: Publish | None = self.publish or getattr(wall, "publish_alert", None)
        if publish is not None:
            publish(payload)
        else:
            wall.notify_ingest(str(payload["alert"]["agent_id"]))

    def close(self) -> None:
        return None


def build_channels(config: AlertConfig) -> list[Channel]:
    from collector.alerts.syslog import SyslogTcpChannel, SyslogTlsChannel, SyslogUdpChannel
    from collector.alerts.webhook import WebhookChannel

    out: list[Channel] = []
    if config.wall == "on":
        out.append(WallChannel())
    if config.webhook_url:
        out.append(WebhookChannel(config.webhook_url, config.webhook_secret, config.webhook_timeout_s))
    if config.syslog_udp:
        out.append(SyslogUdpChannel(host_port(config.syslog_udp), config.syslog_facility))
    if config.syslog_tcp:
        out.append(SyslogTcpChannel(host_port(config.syslog_tcp), config.syslog_facility, config.webhook_timeout_s))
    if config.syslog_tls:
        out.append(SyslogTlsChannel(host_port(config.syslog_tls), config.syslog_facility, config.tls_context(),
                                    config.webhook_timeout_s))
    return out
