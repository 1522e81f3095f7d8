"""Collector settings: one declarative table (name, type, default, help, check), loaded once at start-up.

Precedence: defaults < ``DATA/collector.toml`` < environment ``SEATGUARD_<NAME>`` < CLI flags. The table
is four settings classes (:mod:`contract.settings_table`): :class:`Settings`' own fields (top-level keys),
:class:`AlertConfig` (top-level ``alert_*`` keys, environment ``SEATGUARD_ALERT_*``),
:class:`detectors.scoring.ScoringConfig` (the ``[scoring]`` table, environment ``SEATGUARD_SCORING_*``) and
:class:`collector.retention.RetentionConfig` (the ``[retention]`` table, environment ``SEATGUARD_RETENTION_*``);
:func:`load_settings` builds all four, and a bad value stops the start with the setting and its source.
``seatguard-collector config-doc`` prints the reference that the README and packaging/CONFIG.md embed.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.errors import AlertConfigError, ConfigError
from collector.proxies import AddressList
from collector.retention import RetentionConfig, RetentionPeriods
from contract.settings_table import (
    Section,
    Setting,
    SettingsError,
    at_least,
    build,
    check_rows,
    known_log_level,
    load_layers,
    markdown,
    one_of,
    positive,
    setting,
    within,
)
from detectors.errors import DetectorError
from detectors.scoring import ScoringConfig


def _time_zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "must name a known time zone (e.g. Asia/Shanghai)"
    return None


def _clock_time(text: str) -> str | None:
    hh, sep, mm = text.partition(":")
    ok = sep and hh.isdecimal() and mm.isdecimal() and len(mm) == 2 and int(hh) < 24 and int(mm) < 60
    return None if ok else "must be a time of day HH:MM"


def host_port(text: str, name: str = "address") -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise AlertConfigError(f"setting {name!r} must look like HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _host_port(text: str) -> str | None:
    if not text:
        return None
    try:
        host_port(text)
    except AlertConfigError:
        return "must look like HOST:PORT"
    return None


def _http_url(text: str) -> str | None:
    parts = urlsplit(text)
    return None if not text or (parts.scheme in ("http", "https") and parts.hostname) else \
        "must be an http:// or https:// URL"


@dataclass(frozen=True)
class AlertConfig:
    """Real-time alert settings, the ``alert_*`` rows of the collector's table (collector.alerts reads them)."""

    rate_limit_s: float = setting(
        900.0, "Alerts: at most one delivery per agent and rule in this many seconds (repeats are counted).")
    silent_after_min: float = setting(
        10.0, "Alerts: 'agent silent' after this many minutes without a batch during the shift (0: off).")
    silence_check_s: float = setting(30.0, "Alerts: how often `serve` looks for silent or stopped agents.",
                                     positive)
    base_url: str = setting("", "Alerts: https://host prefix for timeline links in delivered alerts "
                                "(empty: relative links).", _http_url)
    wall: str = setting("on", "Alerts: push alerts to open live-wall pages (on/off).", one_of("on", "off"))
    webhook_url: str = setting("", "Alerts: http(s) URL that receives each alert as JSON (empty: off).", _http_url)
    webhook_secret: str = setting(
        "", "Alerts: HMAC-SHA256 key of the X-SeatGuard-Signature header (required with a webhook URL).")
    webhook_timeout_s: float = setting(5.0, "Alerts: webhook connect and answer timeout (seconds).",
                                       positive)
    syslog_udp: str = setting("", "Alerts: HOST:PORT of a syslog receiver, RFC 5424 over UDP (empty: off).",
                              _host_port)
    syslog_tcp: str = setting("", "Alerts: HOST:PORT of a syslog receiver, RFC 5424 over TCP, octet-counting "
                                  "framing (empty: off).", _host_port)
    syslog_tls: str = setting("", "Alerts: HOST:PORT of a syslog receiver, RFC 5424 over TLS (RFC 5425, usually "
                                  "port 6514) (empty: off).", _host_port)
    syslog_tls_ca: str = setting(
        "", "Alerts: PEM CA bundle that signs the TLS syslog receiver's certificate (empty: the system's CAs).")
    syslog_tls_certfile: str = setting(
        "", "Alerts: PEM client certificate for a TLS syslog receiver that requires one (empty: none).")
    syslog_tls_keyfile: str = setting(
        "", "Alerts: PEM key of alert_syslog_tls_certfile (empty: the key is in the certificate file).")
    syslog_facility: int = setting(10, "Alerts: syslog facility number (10: security/authorization).",
                                   within(0, 23))
    retry_attempts: int = setting(6, "Alerts: delivery attempts per channel before the dead-letter list.",
                                  at_least(1))
    retry_base_s: float = setting(2.0, "Alerts: first retry delay; it doubles on every further attempt.", positive)
    retry_max_s: float = setting(300.0, "Alerts: longest delay between two delivery attempts.", positive)

    def __post_init__(self) -> None:
        check_rows(self, AlertConfigError, "alert_")
        if self.webhook_url and not self.webhook_secret:
            raise AlertConfigError("setting 'alert_webhook_secret' is required with a webhook URL")
        if self.syslog_tls:
            self.tls_context()  # unreadable or mismatched certificate files fail at start, not at the first alert
        elif self.syslog_tls_ca or self.syslog_tls_certfile or self.syslog_tls_keyfile:
            raise AlertConfigError("the alert_syslog_tls_* files are set but 'alert_syslog_tls' (HOST:PORT) is not")

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

    def describe(self) -> dict[str, Any]:
        """The configuration without the webhook secret (for logs and the admin API)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["webhook_secret"] = "set" if self.webhook_secret else ""
        return out


@dataclass(frozen=True)
class Settings:
    """Validated settings plus the data folder they belong to; ``alerts`` and ``scoring`` are their sections."""

    data_dir: Path
    db_url: str = setting("", "Database URL; empty means SQLite at DATA/seatguard.db. postgresql://... for scale-out.")
    host: str = setting("127.0.0.1", "Address `serve` listens on.")
    port: int = setting(8000, "Port `serve` listens on.", within(0, 65535))
    tls_certfile: str = setting("", "PEM certificate (chain) for HTTPS; empty: plain HTTP (e.g. behind a TLS proxy).")
    tls_keyfile: str = setting("", "PEM private key matching tls_certfile.")
    timezone: str = setting("Asia/Shanghai", "Time zone whose calendar days are report and timeline days.",
                            _time_zone)
    max_body_bytes: int = setting(8 * 1024 * 1024, "Largest accepted request body (bytes); larger -> 413 too_large.",
                                  at_least(1024))
    max_batch_events: int = setting(20000, "Most events in one batch; more -> 413 too_many_events.", at_least(1))
    max_inflated_bytes: int = setting(
        64 * 1024 * 1024,
        "Most bytes a sealed batch may decompress to (inflated in bounded steps); more -> 413 too_large.", at_least(1))
    max_inflate_ratio: float = setting(200.0, "Most times a batch may grow when decompressed; more -> 413 "
                                              "inflate_ratio.", positive)
    max_json_containers: int = setting(
        100_000, "Most JSON objects and arrays ('{' and '[' bytes) in one inflated batch, counted before parsing, "
                 "which bounds a request's memory; more -> 413 too_many_values.", at_least(1))
    max_quarantine_per_batch: int = setting(
        500, "Most quarantined rows stored per batch; the excess is counted (metric), not stored.")
    max_batch_age_days: float = setting(30.0, "Oldest accepted batch (by sealed_at); older -> "
                                              "timestamp_out_of_window.", positive)
    max_clock_skew_s: float = setting(300.0, "How far in the future a batch or event timestamp may be.")
    policy_grace_s: float = setting(
        600.0, "How long an agent may still run the previous policy after a new one is issued (then: "
               "policy_mismatch).")
    blob_quota_bytes_per_day: int = setting(
        256 * 1024 * 1024,
        "Most screenshot bytes one agent may store per local day; more -> 429 blob_quota (0: no limit).")
    blob_quota_count_per_day: int = setting(
        2000, "Most screenshots one agent may store per local day; more -> 429 blob_quota (0: no limit).")
    blob_rate_per_min: int = setting(
        30, "Most screenshots one agent may store in any 60 seconds; more -> 429 blob_rate (0: no limit).")
    retention_days: int = setting(
        180, "Events older than this are purged: the retention period of every kind, and the longest "
             "(`[retention] kinds` shortens it per kind; a legal hold suspends it for one agent).", at_least(1))
    enroll_token_ttl_h: float = setting(72.0, "Lifetime of a one-time enrollment token (hours).", positive)
    api_token_days: float = setting(
        90.0, "Lifetime of an API token (days) unless `token create --expires-days` says otherwise.", positive)
    login_rate_burst: int = setting(
        10, "Sign-in attempts one client address may make at once; a successful one is given back (0: no limit).")
    login_rate_per_min: float = setting(
        5.0, "How fast a client's sign-in attempts come back (per minute); past them /login answers 429.", positive)
    enroll_rate_burst: int = setting(
        20, "Enrollment attempts one client address may make at once; a successful one is given back "
            "(0: no limit).")
    enroll_rate_per_min: float = setting(
        10.0, "How fast a client's enrollment attempts come back (per minute); past them 429 rate_limited.", positive)
    trusted_proxies: AddressList = setting(
        AddressList(), "Reverse proxies (addresses or CIDR networks, a list or comma-separated) whose "
                       "X-Forwarded-For and X-Forwarded-Proto are believed; the client is the rightmost address "
                       "that is none of them. Empty: trust none.")
    report_time: str = setting("06:00", "Local time at which `serve` builds yesterday's report (HH:MM).",
                               _clock_time)
    need_to_know_scope: str = setting(
        "team", "Whose cases make a customer page need-to-know in the daily report: `team` (the agent's own team) "
                "or `fleet` (anyone's); a page of a customer nobody in scope had a case for that day counts as "
                "without a case, one a colleague in scope had a case for counts as a review.",
        one_of("team", "fleet"))
    session_idle_min: float = setting(30.0, "Web sessions end after this many minutes without a request.",
                                      positive)
    cookie_secure: str = setting(
        "auto", "Session cookie Secure flag: auto (https, or plain http from loopback only), always, never.",
        one_of("auto", "always", "never"))
    log_level: str = setting("INFO", "Logging level of the collector process (`--log-level` overrides it).",
                             known_log_level)
    api_docs: bool = setting(
        False, "Serve the API reference page at /api/docs (rendered here, no third-party assets); "
               "/api/openapi.json is served either way.")
    alerts: AlertConfig = field(default_factory=AlertConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    tz: ZoneInfo = field(init=False, repr=False, compare=False)
    periods: RetentionPeriods = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_rows(self, ConfigError)
        object.__setattr__(self, "tz", ZoneInfo(self.timezone))
        object.__setattr__(self, "periods", RetentionPeriods(self.retention_days, self.retention))

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'seatguard.db').resolve()}"


CORE = Section(Settings, "SEATGUARD_")
ALERTS = Section(AlertConfig, "SEATGUARD_", prefix="alert_")
SCORING = Section(ScoringConfig, "SEATGUARD_SCORING_", table="scoring")
RETENTION = Section(RetentionConfig, "SEATGUARD_RETENTION_", table="retention")
SECTIONS = (CORE, ALERTS, SCORING, RETENTION)

CORE_SETTINGS: tuple[Setting, ...] = CORE.rows
ALERT_SETTINGS: tuple[Setting, ...] = ALERTS.rows
SCORING_SETTINGS: tuple[Setting, ...] = SCORING.rows
RETENTION_SETTINGS: tuple[Setting, ...] = RETENTION.rows
SETTINGS: tuple[Setting, ...] = CORE_SETTINGS + ALERT_SETTINGS  # the top-level keys of collector.toml


def load_settings(data_dir: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """The settings of the collector whose data folder is ``data_dir``; a bad value raises
    :class:`ConfigError` naming the setting and where its value came from."""
    try:
        layers = load_layers(SECTIONS, data_dir / "collector.toml", overrides)
        alerts = build(ALERTS, layers, (AlertConfigError,))
        scoring = build(SCORING, layers, (DetectorError,))
        retention = build(RETENTION, layers, (ConfigError,))
        settings = build(CORE, layers, (ConfigError,), data_dir=data_dir, alerts=alerts, scoring=scoring,
                         retention=retention)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc
    return settings


def settings_markdown() -> str:
    return (f"{markdown(SETTINGS)}\n\n"
            "Scoring of the daily report and the real-time alerts, in the `[scoring]` table of `collector.toml` "
            "(environment `SEATGUARD_SCORING_<NAME>`; a list or table there is written as in TOML):\n\n"
            f"{markdown(SCORING_SETTINGS)}\n\n"
            "Retention per event kind, in the `[retention]` table (environment `SEATGUARD_RETENTION_<NAME>`); "
            "a kind's name with a dot may be written as a dotted key under `[retention.kinds]`:\n\n"
            f"{markdown(RETENTION_SETTINGS)}")
