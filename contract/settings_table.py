"""Settings as one declarative table: (name, type, default, help) rows, loaded in layers.

Both the agent (``agent.config``) and the collector (``collector.config``) describe their settings
with :class:`Setting` rows and load them with :func:`load_layers`: defaults, then a TOML file, then
environment variables, then command-line overrides; each value is coerced and checked where it
enters, and :func:`markdown` documents the table (the README embeds it; a test compares them).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.errors import ContractError


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str


class SettingsError(ContractError, ValueError):
    """A setting's value is missing, unknown or of the wrong type (each package wraps it)."""


def coerce(setting: Setting, raw: Any, source: str) -> Any:
    try:
        if setting.type is bool and isinstance(raw, str):
            return raw.lower() in ("1", "true", "yes", "on")
        value = setting.type(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: setting {setting.name!r} must be {setting.type.__name__}, "
                            f"got {raw!r}") from exc
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise SettingsError(f"{source}: setting {setting.name!r} must not be negative")
    return value


def load_layers(table: Sequence[Setting], path: Path, env_prefix: str,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults < TOML file at ``path`` (if it exists) < ``{env_prefix}{NAME}`` variables < overrides."""
    by_name = {s.name: s for s in table}
    values = {s.name: s.default for s in table}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML ({exc})") from exc
        for key, raw in data.items():
            if key not in by_name:
                raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(by_name))})")
            values[key] = coerce(by_name[key], raw, str(path))
    for setting in table:
        variable = f"{env_prefix}{setting.name.upper()}"
        env = os.environ.get(variable)
        if env is not None:
            values[setting.name] = coerce(setting, env, f"environment {variable}")
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = coerce(by_name[key], raw, "command line")
    return values


def markdown(table: Sequence[Setting]) -> str:
    lines = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    for s in table:
        lines.append(f"| `{s.name}` | {s.type.__name__} | `{s.default}` | {s.help} |")
    return "\n".join(lines)
