"""Agent settings: one declarative table, loaded once at start-up.

Precedence: defaults < ``HOME/agent.toml`` < environment ``SEATGUARD_AGENT_<NAME>`` < CLI overrides.
:class:`AgentConfig`'s fields are the table (:mod:`contract.settings_table`); the README's configuration
reference is generated from it (``seatguard-agent config-doc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
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
    rows,
    setting,
    within,
)


def _tls_verify(value: Any) -> str | None:
    return None if str(value).strip() else "must be 'true', 'false' or the path of a CA bundle"


def _tls_verify_text(raw: Any) -> str:
    """A TOML boolean (``tls_verify = true``, as agent.toml files of earlier releases say) or text."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if not isinstance(raw, str):
        raise ValueError("expected true, false or the path of a CA bundle")
    return raw


@dataclass(frozen=True)
class AgentConfig:
    batch_max_events: int = setting(1000, "Seal a batch once it holds this many events.", at_least(1))
    batch_max_age_s: float = setting(5.0, "Seal a batch once its oldest event is this old (seconds).")
    spool_max_mb: float = setting(512.0, "Spool size limit; the oldest batches are dropped (and counted) beyond it.")
    backoff_min_s: float = setting(1.0, "First retry delay after a network error, 408, 429 or 5xx.")
    backoff_max_s: float = setting(60.0, "Longest retry delay (full-jitter exponential backoff).")
    heartbeat_s: float = setting(60.0, "Seconds between agent.heartbeat events while running.")
    http_timeout_s: float = setting(30.0, "Timeout of one upload request.")
    tls_verify: str = setting("true", "'true', 'false' (tests only) or the path of a CA bundle / pinned certificate.",
                              _tls_verify, parse=_tls_verify_text)
    allow_insecure_http: bool = setting(
        False, "Allow plain http:// or tls_verify = false to a collector that is not loopback "
               "(test labs only; shown on the admin page).")
    watchdog_rss_mb: float = setting(200.0, "Self-watchdog: restart the sensors when RSS stays above this (MB).")
    watchdog_cpu_pct: float = setting(25.0, "Self-watchdog: ... or when CPU stays above this (% of one core).",
                                      within(0, 10_000))
    watchdog_samples: int = setting(5, "Self-watchdog: consecutive heartbeats over a limit before a restart.",
                                    at_least(1))
    log_level: str = setting("INFO", "Logging level of the agent process.", known_log_level)

    def __post_init__(self) -> None:
        check_rows(self, ConfigError)
        if self.backoff_min_s > self.backoff_max_s:
            raise ConfigError("setting 'backoff_min_s' must not exceed 'backoff_max_s'")

    @property
    def tls(self) -> bool | str:
        value = self.tls_verify
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        return value


SECTION = Section(AgentConfig, "SEATGUARD_AGENT_")
SETTINGS: tuple[Setting, ...] = rows(AgentConfig)


def load_config(home: Path, overrides: dict[str, Any] | None = None) -> AgentConfig:
    try:
        config = build(SECTION, load_layers([SECTION], home / "agent.toml", overrides), (ConfigError,))
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc
    return config


def settings_markdown() -> str:
    return markdown(SETTINGS)
