"""Collector settings: one declarative table (name, type, default, help), loaded once at start-up.

Precedence: defaults < ``DATA/collector.toml`` < environment ``SEATGUARD_<NAME>`` < CLI flags.
``seatguard-collector config-doc`` prints the reference that the README embeds; a test checks
that every setting is documented there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.errors import ConfigError
from collector.proxies import AddressList
from contract.settings_table import Setting, SettingsError, load_layers, markdown

CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("db_url", str, "",
            "Database URL; empty means SQLite at DATA/seatguard.db. postgresql://... for scale-out."),
    Setting("host", str, "127.0.0.1", "Address `serve` listens on."),
    Setting("port", int, 8000, "Port `serve` listens on."),
    Setting("tls_certfile", str, "", "PEM certificate (chain) for HTTPS; empty: plain HTTP (e.g. behind a TLS proxy)."),
    Setting("tls_keyfile", str, "", "PEM private key matching tls_certfile."),
    Setting("timezone", str, "Asia/Shanghai", "Time zone whose calendar days are report and timeline days."),
    Setting("max_body_bytes", int, 8 * 1024 * 1024, "Largest accepted request body (bytes); larger -> 413 too_large."),
    Setting("max_batch_events", int, 20000, "Most events in one batch; more -> 413 too_many_events."),
    Setting("max_inflated_bytes", int, 64 * 1024 * 1024,
            "Most bytes a sealed batch may decompress to (inflated in bounded steps); more -> 413 too_large."),
    Setting("max_inflate_ratio", float, 200.0,
            "Most times a batch may grow when decompressed; more -> 413 inflate_ratio."),
    Setting("max_json_containers", int, 100_000,
            "Most JSON objects and arrays ('{' and '[' bytes) in one inflated batch, counted before parsing, "
            "which bounds a request's memory; more -> 413 too_many_values."),
    Setting("max_quarantine_per_batch", int, 500,
            "Most quarantined rows stored per batch; the excess is counted (metric), not stored."),
    Setting("max_batch_age_days", float, 30.0,
            "Oldest accepted batch (by sealed_at); older -> timestamp_out_of_window."),
    Setting("max_clock_skew_s", float, 300.0, "How far in the future a batch or event timestamp may be."),
    Setting("policy_grace_s", float, 600.0,
            "How long an agent may still run the previous policy after a new one is issued (then: policy_mismatch)."),
    Setting("blob_quota_bytes_per_day", int, 256 * 1024 * 1024,
            "Most screenshot bytes one agent may store per local day; more -> 429 blob_quota (0: no limit)."),
    Setting("blob_quota_count_per_day", int, 2000,
            "Most screenshots one agent may store per local day; more -> 429 blob_quota (0: no limit)."),
    Setting("blob_rate_per_min", int, 30,
            "Most screenshots one agent may store in any 60 seconds; more -> 429 blob_rate (0: no limit)."),
    Setting("retention_days", int, 180, "Events older than this are purged."),
    Setting("enroll_token_ttl_h", float, 72.0, "Lifetime of a one-time enrollment token (hours)."),
    Setting("api_token_days", float, 90.0,
            "Lifetime of an API token (days) unless `token create --expires-days` says otherwise."),
    Setting("login_rate_burst", int, 10,
            "Sign-in attempts one client address may make at once; a successful one is given back (0: no limit)."),
    Setting("login_rate_per_min", float, 5.0,
            "How fast a client's sign-in attempts come back (per minute); past them /login answers 429."),
    Setting("enroll_rate_burst", int, 20,
            "Enrollment attempts one client address may make at once; a successful one is given back (0: no limit)."),
    Setting("enroll_rate_per_min", float, 10.0,
            "How fast a client's enrollment attempts come back (per minute); past them 429 rate_limited."),
    Setting("trusted_proxies", AddressList, AddressList(),
            "Reverse proxies (addresses or CIDR networks, a list or comma-separated) whose X-Forwarded-For "
            "and X-Forwarded-Proto are believed; the client is the rightmost address that is none of "
            "them. Empty: trust none."),
    Setting("report_time", str, "06:00", "Local time at which `serve` builds yesterday's report (HH:MM)."),
    Setting("need_to_know_scope", str, "team",
            "Whose cases make a customer page need-to-know in the daily report: `team` (the agent's own team) "
            "or `fleet` (anyone's); a page of a customer nobody in scope had a case for that day counts as "
            "without a case, one a colleague in scope had a case for counts as a review."),
    Setting("session_idle_min", float, 30.0, "Web sessions end after this many minutes without a request."),
    Setting("cookie_secure", str, "auto",
            "Session cookie Secure flag: auto (https, or plain http from loopback only), always, never."),
    Setting("log_level", str, "INFO", "Logging level of the collector process."),
    Setting("api_docs", bool, False,
            "Serve the API reference page at /api/docs (rendered here, no third-party assets); "
            "/api/openapi.json is served either way."),
)

# Real-time alerts (collector.alerts reads these rows through AlertConfig).
ALERT_SETTINGS: tuple[Setting, ...] = (
    Setting("alert_rate_limit_s", float, 900.0,
            "Alerts: at most one delivery per agent and rule in this many seconds (repeats are counted)."),
    Setting("alert_silent_after_min", float, 10.0,
            "Alerts: 'agent silent' after this many minutes without a batch during the shift (0: off)."),
    Setting("alert_silence_check_s", float, 30.0, "Alerts: how often `serve` looks for silent or stopped agents."),
    Setting("alert_base_url", str, "",
            "Alerts: https://host prefix for timeline links in delivered alerts (empty: relative links)."),
    Setting("alert_wall", str, "on", "Alerts: push alerts to open live-wall pages (on/off)."),
    Setting("alert_webhook_url", str, "", "Alerts: http(s) URL that receives each alert as JSON (empty: off)."),
    Setting("alert_webhook_secret", str, "",
            "Alerts: HMAC-SHA256 key of the X-SeatGuard-Signature header (required with a webhook URL)."),
    Setting("alert_webhook_timeout_s", float, 5.0, "Alerts: webhook connect and answer timeout (seconds)."),
    Setting("alert_syslog_udp", str, "", "Alerts: HOST:PORT of a syslog receiver, RFC 5424 over UDP (empty: off)."),
    Setting("alert_syslog_tcp", str, "",
            "Alerts: HOST:PORT of a syslog receiver, RFC 5424 over TCP, octet-counting framing (empty: off)."),
    Setting("alert_syslog_tls", str, "",
            "Alerts: HOST:PORT of a syslog receiver, RFC 5424 over TLS (RFC 5425, usually port 6514) (empty: off)."),
    Setting("alert_syslog_tls_ca", str, "",
            "Alerts: PEM CA bundle that signs the TLS syslog receiver's certificate (empty: the system's CAs)."),
    Setting("alert_syslog_tls_certfile", str, "",
            "Alerts: PEM client certificate for a TLS syslog receiver that requires one (empty: none)."),
    Setting("alert_syslog_tls_keyfile", str, "",
            "Alerts: PEM key of alert_syslog_tls_certfile (empty: the key is in the certificate file)."),
    Setting("alert_syslog_facility", int, 10, "Alerts: syslog facility number (10: security/authorization)."),
    Setting("alert_retry_attempts", int, 6, "Alerts: delivery attempts per channel before the dead-letter list."),
    Setting("alert_retry_base_s", float, 2.0, "Alerts: first retry delay; it doubles on every further attempt."),
    Setting("alert_retry_max_s", float, 300.0, "Alerts: longest delay between two delivery attempts."),
)
SETTINGS: tuple[Setting, ...] = CORE_SETTINGS + ALERT_SETTINGS


class Settings:
    """Validated settings plus the data folder they belong to."""

    def __init__(self, data_dir: Path, values: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self.values = values
        try:
            self.tz = ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"setting 'timezone': unknown time zone {values['timezone']!r}") from exc
        scope = values["need_to_know_scope"]
        if scope not in ("team", "fleet"):
            raise ConfigError(f"setting 'need_to_know_scope' must be team or fleet, not {scope!r}")

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def database_url(self) -> str:
        url = str(self.values["db_url"])
        return url or f"sqlite:///{(self.data_dir / 'seatguard.db').resolve()}"


def load_settings(data_dir: Path, overrides: dict[str, Any] | None = None) -> Settings:
    try:
        values = load_layers(SETTINGS, data_dir / "collector.toml", "SEATGUARD_", overrides)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc
    if values["max_body_bytes"] < 1024:
        raise ConfigError("setting 'max_body_bytes' must be at least 1024")
    return Settings(data_dir, values)


def settings_markdown() -> str:
    return markdown(SETTINGS)
