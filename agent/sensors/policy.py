"""The policy the collector hands to every agent, as the sensors use it.

One declarative table: every field of :class:`AgentPolicy` carries its kind and help text in the
dataclass metadata, ``AgentPolicy.from_dict`` validates a decoded JSON object against that table,
and ``to_dict`` gives the JSON form back. App, site and URL patterns are case-insensitive shell
globs (``anydesk*``, ``*.example.com``); case-ID patterns are regular expressions whose first
group (or whole match) is the case ID.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.sensors.errors import PolicyError

logger = logging.getLogger(__name__)

PROCESS_CATEGORIES = ("remote_access", "screen_capture", "messaging")
SCREENSHOT_TRIGGERS = frozenset(
    {
        "remote_access_process",  # process.start of a remote-access tool
        "screen_capture_process",  # process.start of a screen recorder
        "sensitive_copy",  # a copy holding ID/phone/card numbers, or one that was cleared
        "messaging_after_sensitive_copy",  # a messaging app comes to front soon after a sensitive copy
        "disallowed_app",  # app.focus on an app outside allowed_apps (when that list is set)
        "disallowed_site",  # page.open on a site outside allowed_sites (when that list is set)
        "removable_write",  # a file changes on a removable drive
    }
)

_DEFAULT_CATEGORIES = {
    "remote_access": [
        "anydesk*", "teamviewer*", "rustdesk*", "*vnc*", "ammyy*", "aa_v3*", "ultraviewer*",
        "sunlogin*", "todesk*", "screenconnect*", "connectwise*", "splashtop*", "parsec*",
        "remoting_host*", "remotepc*", "supremo*", "logmein*", "dwagent*", "meshagent*",
    ],
    "screen_capture": [
        "obs", "obs64*", "obs32*", "obs-studio*", "bandicam*", "camtasia*", "sharex*", "snagit*",
        "screenrec*", "simplescreenrecorder*", "kazam*", "vokoscreen*", "recordmydesktop*",
        "screencapture", "screenpresso*", "flashback*", "loom*",
    ],
    "messaging": [
        "wechat*", "weixin*", "qq", "qq.exe", "telegram*", "whatsapp*", "dingtalk*", "feishu*",
        "lark*", "slack*", "discord*", "signal*", "skype*", "ms-teams*", "teams*", "wxwork*",
    ],
}


def _setting(kind: str, default: Any, help: str) -> Any:
    """A policy field: its kind (for validation), default and help text, in one place."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: _copy(default), metadata={"kind": kind, "help": help})
    return field(default=default, metadata={"kind": kind, "help": help})


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: list(v) for k, v in value.items()}
    return list(value)


@dataclass(frozen=True)
class AgentPolicy:
    """What the sensors look for and how eagerly; built once from the collector's policy JSON."""

    case_id_patterns: list[str] = _setting(
        "regexes", [], "Regular expressions finding a case ID in a window title or URL (group 1 if any).")
    customer_url_patterns: list[str] = _setting(
        "globs", [], "URL globs of pages that show customer data (copies there count as sensitive-source).")
    allowed_apps: list[str] = _setting(
        "globs", [], "App-name globs the agent is expected to use; empty means no restriction.")
    allowed_sites: list[str] = _setting(
        "globs", [], "Host globs (e.g. *.lender.example) the agent is expected to visit; empty: any.")
    sensitive_apps: list[str] = _setting(
        "globs", [], "App-name globs that show customer data; sensitive copies out of them may be cleared.")
    messaging_apps: list[str] = _setting(
        "globs", list(_DEFAULT_CATEGORIES["messaging"]), "App-name globs of chat/messaging apps.")
    browser_apps: list[str] = _setting(
        "globs",
        ["chrome*", "chromium*", "msedge*", "firefox*", "brave*", "opera*", "google chrome*",
         "microsoft edge*", "safari", "vivaldi*", "360se*", "qqbrowser*"],
        "App-name globs of web browsers (their title changes become page.open without the extension).")
    extension_browser_apps: list[str] = _setting(
        "globs",
        ["chrome*", "chromium*", "msedge*", "brave*", "google chrome*", "microsoft edge*", "vivaldi*"],
        "Browsers the SeatGuard extension covers: once it reports, their titles no longer make page.open.")
    process_categories: dict[str, list[str]] = _setting(
        "categories", _DEFAULT_CATEGORIES,
        "Category -> process-name globs; categories: remote_access, screen_capture, messaging.")
    report_other_processes: bool = _setting(
        "bool", True, "Also report starts of the user's own uncategorized processes (category other).")
    screenshot_triggers: list[str] = _setting(
        "triggers", [], "Events that take a screenshot: " + ", ".join(sorted(SCREENSHOT_TRIGGERS)) + ".")
    idle_threshold_s: float = _setting("seconds", 300.0, "No input for this long makes the seat idle.")
    case_absence_s: float = _setting(
        "seconds", 120.0, "A case out of the foreground this long is closed (at the moment it left).")
    watched_folders: list[str] = _setting(
        "paths", ["~/Downloads", "~/Desktop", "~/Documents"], "Folders whose files are watched (~ = home).")
    clear_sensitive_copies: bool = _setting(
        "bool", False, "Clear the clipboard after a sensitive copy out of a sensitive app or customer page.")
    clipboard_preview: bool = _setting(
        "bool", True, "Ship a masked preview (at most 64 characters) of copied text.")
    screenshot_min_interval_s: float = _setting("seconds", 60.0, "At least this long between screenshots.")
    screenshot_max_per_hour: int = _setting("count", 20, "At most this many screenshots in any hour.")
    screenshot_max_width: int = _setting("count", 1280, "Screenshots are downscaled to at most this width.")
    focus_poll_s: float = _setting("seconds", 1.0, "How often the foreground window is looked at.")
    clipboard_poll_s: float = _setting("seconds", 0.5, "How often the clipboard change counter is looked at.")
    process_poll_s: float = _setting("seconds", 2.0, "How often new processes are looked for.")
    device_poll_s: float = _setting("seconds", 5.0, "How often mounted drives are listed.")
    file_settle_s: float = _setting("seconds", 1.0, "Report a file change once the file is quiet this long.")
    extension_port: int = _setting("port", 47533, "Loopback port of the browser-extension bridge (0: any).")
    _case_res: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for f in _settings():
            object.__setattr__(self, f.name, _check(f.name, f.metadata["kind"], getattr(self, f.name)))
        object.__setattr__(self, "_case_res", tuple(re.compile(p) for p in self.case_id_patterns))

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentPolicy:
        """Build from decoded JSON; keys the sensors do not know (a newer collector's, or settings of
        other parts of the agent such as ``version``) are logged at info level and ignored."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"policy must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in _settings()}
        unknown = sorted(set(data) - known)
        if unknown:
            logger.info("policy settings the sensors do not use: %s", ", ".join(unknown))
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _copy(v) if isinstance(v := getattr(self, f.name), list | dict) else v
                for f in _settings()}

    # ---- questions the sensors ask ------------------------------------------------------------

    def find_case_id(self, *texts: str) -> str | None:
        for regex in self._case_res:
            for text in texts:
                m = regex.search(text) if text else None
                if m:
                    return str(m.group(1) if m.groups() and m.group(1) else m.group(0))
        return None

    def is_browser(self, app: str) -> bool:
        return glob_any(self.browser_apps, app)

    def is_sensitive_app(self, app: str) -> bool:
        return glob_any(self.sensitive_apps, app)

    def is_messaging_app(self, app: str) -> bool:
        return glob_any(self.messaging_apps, app)

    def is_allowed_app(self, app: str) -> bool:
        return not self.allowed_apps or glob_any(self.allowed_apps, app)

    def is_allowed_site(self, url: str) -> bool:
        if not self.allowed_sites:
            return True
        host = urlsplit(url).hostname or ""
        return bool(host) and glob_any(self.allowed_sites, host)

    def is_customer_url(self, url: str) -> bool:
        return bool(url) and glob_any(self.customer_url_patterns, url)

    def category_of(self, *names: str) -> str:
        for category in PROCESS_CATEGORIES:
            if any(glob_any(self.process_categories.get(category, ()), n) for n in names if n):
                return category
        return "other"

    def watched_paths(self) -> list[Path]:
        return [Path(p).expanduser() for p in self.watched_folders]


def glob_any(patterns: Iterable[str], value: str) -> bool:
    """Case-insensitive shell-glob match of ``value`` against any pattern."""
    low = value.lower()
    return any(fnmatch.fnmatchcase(low, p.lower()) for p in patterns)


def settings_table() -> list[tuple[str, str, Any, str]]:
    """(name, kind, default, help) of every policy setting: the source of the docs."""
    out = []
    for f in _settings():
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        out.append((f.name, f.metadata["kind"], default, f.metadata["help"]))
    return out


def _settings() -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(AgentPolicy) if "kind" in f.metadata]


def _check(name: str, kind: str, value: Any) -> Any:
    if kind in ("globs", "regexes", "paths", "triggers"):
        items = _str_list(name, value)
        if kind == "regexes":
            for p in items:
                try:
                    re.compile(p)
                except re.error as exc:
                    raise PolicyError(f"policy '{name}': bad regular expression {p!r}: {exc}") from exc
        if kind == "triggers":
            bad = sorted(set(items) - SCREENSHOT_TRIGGERS)
            if bad:
                raise PolicyError(f"policy '{name}': unknown trigger(s) {', '.join(bad)}")
        return items
    if kind == "categories":
        if not isinstance(value, Mapping):
            raise PolicyError(f"policy '{name}': must be an object of category -> list of globs")
        bad = sorted(set(value) - set(PROCESS_CATEGORIES))
        if bad:
            raise PolicyError(f"policy '{name}': unknown categories {', '.join(bad)}")
        return {str(k): _str_list(f"{name}.{k}", v) for k, v in value.items()}
    if kind == "bool":
        if not isinstance(value, bool):
            raise PolicyError(f"policy '{name}': must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"policy '{name}': must be a number")
    if kind == "seconds":
        if value <= 0:
            raise PolicyError(f"policy '{name}': must be > 0")
        return float(value)
    if int(value) != value or value < 0 or (kind == "port" and value > 65535):
        raise PolicyError(f"policy '{name}': must be a whole number in range")
    if kind == "count" and value < 1:
        raise PolicyError(f"policy '{name}': must be >= 1")
    return int(value)


def _str_list(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise PolicyError(f"policy '{name}': must be a list of strings")
    if not all(isinstance(v, str) for v in value):
        raise PolicyError(f"policy '{name}': every item must be a string")
    return list(value)
