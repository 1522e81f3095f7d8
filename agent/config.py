"""Agent settings: one declarative table, loaded once at start-up.

Precedence: defaults < ``HOME/agent.toml`` < environment ``SEATGUARD_AGENT_<NAME>`` < CLI overrides.
The README's configuration reference is generated from ``SETTINGS`` (``seatguard-agent config-doc``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from contract.settings_table import Setting, SettingsError, load_layers, markdown

SETTINGS: tuple[Setting, ...] = (
    Setting("batch_max_events", int, 1000, "Seal a batch once it holds this many events."),
    Setting("batch_max_age_s", float, 5.0, "Seal a batch once its oldest event is this old (seconds)."),
    Setting("spool_max_mb", float, 512.0, "Spool size limit; the oldest batches are dropped (and counted) beyond it."),
    Setting("backoff_min_s", float, 1.0, "First retry delay after a network error, 408, 429 or 5xx."),
    Setting("backoff_max_s", float, 60.0, "Longest retry delay (full-jitter exponential backoff)."),
    Setting("heartbeat_s", float, 60.0, "Seconds between agent.heartbeat events while running."),
    Setting("http_timeout_s", float, 30.0, "Timeout of one upload request."),
    Setting("tls_verify", str, "true", "'true', 'false' (tests only) or the path of a CA bundle / pinned certificate."),
    Setting("allow_insecure_http", bool, False,
            "Allow plain http:// or tls_verify = false to a collector that is not loopback "
            "(test labs only; shown on the admin page)."),
    Setting("watchdog_rss_mb", float, 200.0, "Self-watchdog: restart the sensors when RSS stays above this (MB)."),
    Setting("watchdog_cpu_pct", float, 25.0, "Self-watchdog: ... or when CPU stays above this (% of one core)."),
    Setting("watchdog_samples", int, 5, "Self-watchdog: consecutive heartbeats over a limit before a restart."),
    Setting("log_level", str, "INFO", "Logging level of the agent process."),
)


@dataclass(frozen=True)
class AgentConfig:
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def tls(self) -> bool | str:
        value = str(self.values["tls_verify"])
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        return value


def load_config(home: Path, overrides: dict[str, Any] | None = None) -> AgentConfig:
    try:
        values = load_layers(SETTINGS, home / "agent.toml", "SEATGUARD_AGENT_", overrides)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc
    if values["batch_max_events"] < 1:
        raise ConfigError("setting 'batch_max_events' must be at least 1")
    if values["backoff_min_s"] > values["backoff_max_s"]:
        raise ConfigError("setting 'backoff_min_s' must not exceed 'backoff_max_s'")
    return AgentConfig(values)


def settings_markdown() -> str:
    return markdown(SETTINGS)
