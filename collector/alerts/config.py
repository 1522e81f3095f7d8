"""Alert settings: rows for the collector's settings table, and the validated object built from them.

:data:`collector.config.ALERT_SETTINGS` holds the rows (name, type, default, help), part of the
collector's one settings table; :meth:`AlertConfig.from_settings` builds the validated object from
them (a test checks that the rows and this dataclass's defaults match).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from collector.alerts.errors import AlertConfigError
from collector.config import ALERT_SETTINGS, Settings


@dataclass(frozen=True)
class AlertConfig:
    rate_limit_s: float = 900.0
    silent_after_min: float = 10.0
    silence_check_s: float = 30.0
    base_url: str = ""
    wall: str = "on"
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_timeout_s: float = 5.0
    syslog_udp: str = ""
    syslog_tcp: str = ""
    syslog_tls: str = ""
    syslog_tls_ca: str = ""
    syslog_tls_certfile: str = ""
    syslog_tls_keyfile: str = ""
    syslog_facility: int = 10
    retry_attempts: int = 6
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0

    def __post_init__(self) -> None:
        if self.wall not in ("on", "off"):
            raise AlertConfigError("setting 'alert_wall' must be 'on' or 'off'")
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise AlertConfigError("setting 'alert_webhook_url' must be an http:// or https:// URL")
            if not self.webhook_secret:
                raise AlertConfigError("setting 'alert_webhook_secret' is required with a webhook URL")
        for name in ("syslog_udp", "syslog_tcp", "syslog_tls"):
            if getattr(self, name):
                host_port(getattr(self, name), f"alert_{name}")
        if self.syslog_tls:
            self.tls_context()  # unreadable or mismatched certificate files fail at start, not at the first alert
        elif self.syslog_tls_ca or self.syslog_tls_certfile or self.syslog_tls_keyfile:
            raise AlertConfigError("the alert_syslog_tls_* files are set but 'alert_syslog_tls' (HOST:PORT) is not")
        if not 0 <= self.syslog_facility <= 23:
            raise AlertConfigError("setting 'alert_syslog_facility' must be within 0..23")
        if self.retry_attempts < 1:
            raise AlertConfigError("setting 'alert_retry_attempts' must be at least 1")
        if self.silence_check_s <= 0 or self.webhook_timeout_s <= 0:
            raise AlertConfigError("alert check interval and webhook timeout must be positive")
        if self.base_url and urlsplit(self.base_url).scheme not in ("http", "https"):
            raise AlertConfigError("setting 'alert_base_url' must start with http:// or https://")

    def tls_context(self) -> ssl.SSLContext:
        """The client context for the TLS syslog receiver: its certificate and name are verified."""
        if self.syslog_tls_keyfile and not self.syslog_tls_certfile:
            raise AlertConfigError("setting 'alert_syslog_tls_keyfile' needs 'alert_syslog_tls_certfile'")
        try:
            context = ssl.create_default_context(cafile=self.syslog_tls_ca or None)
            if self.syslog_tls_certfile:
                context.load_cert_chain(self.syslog_tls_certfile, self.syslog_tls_keyfile or None)
        except (OSError, ssl.SSLError) as exc:
            raise AlertConfigError(f"the TLS syslog certificate files cannot be used: {exc}") from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 5425 as updated by RFC 9662
        return context

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertConfig:
        values: dict[str, Any] = {}
        for setting in ALERT_SETTINGS:
            values[setting.name.removeprefix("alert_")] = settings.values.get(setting.name, setting.default)
        return cls(**values)

    def describe(self) -> dict[str, Any]:
        """The configuration without the webhook secret (for logs and the admin API)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["webhook_secret"] = "set" if self.webhook_secret else ""
        return out


def host_port(text: str, name: str = "address") -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AlertConfigError(f"setting {name!r} must look like HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)
