"""The policy: one table of keys that the collector hands out and both the sensors and the detectors read.

Every field of :class:`Policy` is one key, declared once with its kind, default, help text, which side
reads it and its check; :meth:`Policy.parse` validates a decoded JSON object against that table once
and gives the normalised policy, or raises :class:`PolicyError` naming the key and the reason. The
agent's :class:`agent.sensors.policy.AgentPolicy` and the detectors' policy are this object; the
collector validates an admin's save with it alone (no sensor library is imported).

One meaning per kind of pattern, on both sides:

- ``regexes`` (``case_id_patterns``, ``customer_url_patterns``): Python regular expressions, searched
  (not anchored) in the window title or URL, case-sensitive unless they start with ``(?i)``; group 1
  (or the whole match when there is no group) is the case ID or the customer;
- ``apps`` (app lists and ``process_categories``): case-insensitive shell globs (``anydesk*``) matched
  against the app's normalised name: lower case, no folder, no ``.exe``/``.app`` suffix (a pattern's
  own suffix is dropped the same way); a plain name matches that name only;
- ``hosts`` (``allowed_sites``): case-insensitive shell globs of the page's host; a pattern with no
  wildcard also covers its subdomains (``lender.example`` covers ``crm.lender.example``).

Revision 0010 (:mod:`collector.migrations.versions.v0010_one_policy`) rewrote policies stored in the
earlier readings (customer URL globs, detector name prefixes) into these; revision 0012 gave back the
detectors' reading of the patterns 0010 took for globs.

A regular expression whose matching time is not linear in the text (:mod:`contract.regex_safety`) is
refused when an admin saves it (``strict``). A policy already stored or signed with one is still read:
that pattern alone is left out (``disabled_patterns``), with a warning logged once per process and
:func:`disabled_pattern_count` counting it (the collector's ``seatguard_policy_patterns_left_out``).
Patterns are searched in overlapping windows of :data:`contract.regex_safety.MAX_MATCH_CHARS` characters
of a title or URL (:func:`contract.regex_safety.search`): linear time, and padding does not hide an ID.

The texts come from the PCs, so each search's cost is bounded (:mod:`contract.pattern_search`: RE2 where it
means the same, else Python's engine under a time budget per event and per ingested batch). A search the
budget cuts short is *unjudged* (:data:`contract.pattern_search.UNJUDGED`, counted and logged), and fails
closed: a URL unjudged by every customer pattern (none found the customer) counts as a customer page of an
unknown customer (:func:`customer_in` gives ``UNJUDGED``, :meth:`Policy.is_customer_url` True), and a text
unjudged by the case patterns holds no case ID (the page then counts as opened without a case).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from contract.errors import ContractError
from contract.pattern_search import SHORT_CHARS, UNJUDGED, Budget, PolicyPattern, Unjudged, event_budget
from contract.regex_safety import unsafe_construct

log = logging.getLogger(__name__)

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
RESERVED_KEYS = frozenset({"version"})  # carried by the collector's policy, not a setting
SIDES = ("agent", "detectors", "both")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

_MESSAGING = (
    "wechat*", "weixin*", "qq", "tim", "telegram*", "whatsapp*", "dingtalk*", "feishu*", "lark*", "slack*",
    "discord*", "signal*", "skype*", "ms-teams*", "teams*", "wxwork*", "line",
)
_CATEGORIES: dict[str, tuple[str, ...]] = {
    "remote_access": (
        "anydesk*", "teamviewer*", "rustdesk*", "*vnc*", "ammyy*", "aa_v3*", "ultraviewer*", "sunlogin*",
        "todesk*", "screenconnect*", "connectwise*", "splashtop*", "parsec*", "remoting_host*", "remotepc*",
        "supremo*", "logmein*", "dwagent*", "meshagent*", "mstsc*",
    ),
    "screen_capture": (
        "obs", "obs64*", "obs32*", "obs-studio*", "bandicam*", "bdcam*", "evcapture*", "camtasia*", "sharex*",
        "snagit*", "screenrec*", "simplescreenrecorder*", "kazam*", "vokoscreen*", "recordmydesktop*",
        "screencapture", "screenpresso*", "flashback*", "loom*",
    ),
    "messaging": _MESSAGING,
}


class PolicyError(ContractError, ValueError):
    """A policy is not a JSON object, has a key of the wrong type, or fails a key's check."""


def _key(kind: str, default: Any, help_text: str, side: str, lo: float | None = None,
         hi: float | None = None) -> Any:
    """One policy key: its kind (how it is validated and matched), default, help, reader and range."""
    meta = {"kind": kind, "help": help_text, "side": side, "lo": lo, "hi": hi}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta, hash=False)
    return field(default=default, metadata=meta)


_P = TypeVar("_P", bound="Policy")
_LEFT_OUT: set[tuple[str, str]] = set()  # (key, pattern) this process left out of a policy it read


def disabled_pattern_count() -> int:
    """How many distinct unsafe stored patterns this process left out while reading policies."""
    return len(_LEFT_OUT)


@dataclass(frozen=True)
class Policy:
    """The validated policy: every key with its one type; build it with :meth:`parse` (or keywords)."""

    case_id_patterns: tuple[str, ...] = _key(
        "regexes", (r"\b(C-\d{4}-\d{7})\b",),
        "Regular expressions of case IDs, searched in window titles and URLs; group 1 (or the match) is the "
        "case ID. A page whose URL or title has one is covered by a case.", "both")
    customer_url_patterns: tuple[str, ...] = _key(
        "regexes", (r"/customers?/(\d+)",),
        "Regular expressions of customer page URLs, searched in the URL; group 1 (or the match) is the "
        "customer. Copies on such pages count as copies of customer data.", "both")
    allowed_apps: tuple[str, ...] = _key(
        "apps", (
            "crm", "chrome", "msedge", "firefox", "agentbar", "microsip", "zoiper5", "softphone", "outlook",
            "excel", "winword", "notepad", "explorer", "calc", "onedrive", "wemeetapp", "wxwork", "dingtalk",
            "seatguard", "seatguard-agent", "lockapp", "logonui",
        ), "App globs allowed at the seat; empty: all allowed.", "both")
    allowed_sites: tuple[str, ...] = _key(
        "hosts", ("crm.internal", "kb.internal", "lender.example"),
        "Host globs of allowed web sites (a name without wildcard covers its subdomains); empty: all allowed.",
        "both")
    sensitive_apps: tuple[str, ...] = _key(
        "apps", ("crm",), "App globs that show customer data: any copy made in them counts as a copy of "
        "customer data (and may be cleared).", "both")
    messaging_apps: tuple[str, ...] = _key(
        "apps", _MESSAGING, "App globs of chat and messaging apps (even allowed ones); so are the messaging "
        "category's: copies followed by a switch to them are counted.", "both")
    browser_apps: tuple[str, ...] = _key(
        "apps", (
            "chrome*", "chromium*", "msedge*", "firefox*", "brave*", "opera*", "google chrome*", "microsoft edge*",
            "safari", "vivaldi*", "360se*", "qqbrowser*",
        ), "App globs of web browsers: their minutes count by the site in front, and their title changes "
        "become page.open without the extension.", "both")
    extension_browser_apps: tuple[str, ...] = _key(
        "apps", ("chrome*", "chromium*", "msedge*", "brave*", "google chrome*", "microsoft edge*", "vivaldi*"),
        "Browsers the SeatGuard extension covers: once it reports, their titles no longer make page.open.",
        "agent")
    process_categories: Mapping[str, tuple[str, ...]] = _key(
        "categories", _CATEGORIES,
        "Category -> app globs (categories: remote_access, screen_capture, messaging): the category a "
        "process.start reports, and what an app in front counts as.", "both")
    report_other_processes: bool = _key(
        "bool", True, "Also report starts of the user's own uncategorized processes (category other).", "agent")
    screenshot_triggers: tuple[str, ...] = _key(
        "triggers", ("remote_access_process", "screen_capture_process", "messaging_after_sensitive_copy"),
        "Events that take a screenshot: " + ", ".join(sorted(SCREENSHOT_TRIGGERS)) + ".", "agent")
    idle_threshold_s: float = _key("seconds", 300.0, "No input for this long makes the seat idle.", "agent")
    case_absence_s: float = _key(
        "seconds", 600.0, "A case out of the foreground this long is closed (at the moment it left).", "agent")
    watched_folders: tuple[str, ...] = _key(
        "paths", ("~/Downloads", "~/Desktop", "~/Documents"), "Folders whose files are watched (~ = home).",
        "agent")
    clear_sensitive_copies: bool = _key(
        "bool", False, "Clear the clipboard after a sensitive copy out of a sensitive app or customer page.",
        "agent")
    clipboard_preview: bool = _key(
        "bool", True, "Ship a masked preview (at most 64 characters) of copied text.", "agent")
    screenshot_min_interval_s: float = _key("seconds", 60.0, "At least this long between screenshots.", "agent")
    screenshot_max_per_hour: int = _key("count", 20, "At most this many screenshots in any hour.", "agent", 1)
    screenshot_max_width: int = _key("count", 1280, "Screenshots are downscaled to at most this width.", "agent", 1)
    focus_poll_s: float = _key("seconds", 1.0, "How often the foreground window is looked at.", "agent")
    clipboard_poll_s: float = _key("seconds", 0.5, "How often the clipboard change counter is looked at.", "agent")
    process_poll_s: float = _key("seconds", 2.0, "How often new processes are looked for.", "agent")
    device_poll_s: float = _key("seconds", 5.0, "How often mounted drives are listed.", "agent")
    file_settle_s: float = _key("seconds", 1.0, "Report a file change once the file is quiet this long.", "agent")
    extension_port: int = _key(
        "port", 47533, "Loopback port of the browser-extension bridge (0: any).", "agent", 0, 65535)
    night_start: str = _key("clock", "22:00", "Start of the night (HH:MM, local time).", "detectors")
    night_end: str = _key("clock", "06:00", "End of the night (HH:MM, local time).", "detectors")
    paste_window_s: float = _key(
        "seconds", 30.0, "Seconds after a copy in which switching to an app counts as taking it there.",
        "detectors")
    shift_grace_min: int = _key(
        "minutes", 30, "Minutes before and after the shift that do not count as outside it.", "detectors", 0, 180)
    silence_min_gap_min: int = _key(
        "minutes", 3, "Shortest run of minutes without any event that counts as silence.", "detectors", 1)
    stop_grace_min: int = _key(
        "minutes", 10, "Minutes a clean agent.stop may last without counting: a reboot or update that restarts the "
        "agent within them, or a stop this close to the end of the shift.", "detectors", 0, 120)
    retire_grace_min: int = _key(
        "minutes", 60, "The gap that ends an agent's day does not count when the admin retires the agent (revoke) "
        "at most this many minutes after it began (the uninstall).", "detectors", 0, 1440)
    # "key: pattern: why" of each stored pattern that parse left out (no field: every field is a key)
    disabled_patterns: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for f in keys():
            object.__setattr__(self, f.name, _check(f, getattr(self, f.name)))

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls: type[_P], data: Mapping[str, Any] | None, *, strict: bool = False) -> _P:
        """Validate decoded JSON once and give the normalised policy; absent keys take their defaults.

        ``version`` is carried by the collector and skipped. Other unknown keys (a newer collector's) are
        logged and ignored, or refused with ``strict`` (an admin's save)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise PolicyError(f"policy must be a JSON object, got {type(data).__name__}")
        names = key_names()
        unknown = sorted(set(data) - names - RESERVED_KEYS)
        if unknown and strict:
            raise PolicyError(f"unknown policy key(s) {', '.join(unknown)}")
        if unknown:
            log.info("policy keys this release does not know: %s", ", ".join(unknown))
        given = {k: v for k, v in data.items() if k in names}
        disabled: list[str] = []
        if not strict:
            for f in keys():
                if f.metadata["kind"] == "regexes" and f.name in given:
                    given[f.name] = _leave_out_unsafe(f.name, given[f.name], disabled)
        policy = cls(**given)
        if disabled:
            object.__setattr__(policy, "disabled_patterns", tuple(disabled))
        return policy

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (lists and objects), every key included."""
        out: dict[str, Any] = {}
        for f in keys():
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                out[f.name] = {k: list(v) for k, v in value.items()}
            else:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    # ---- compiled once ------------------------------------------------------------------------

    @cached_property
    def case_res(self) -> tuple[PolicyPattern, ...]:
        return tuple(PolicyPattern(p) for p in self.case_id_patterns)

    @cached_property
    def customer_res(self) -> tuple[PolicyPattern, ...]:
        return tuple(PolicyPattern(p) for p in self.customer_url_patterns)

    @cached_property
    def _apps(self) -> dict[str, AppGlobs]:
        out = {name: AppGlobs(getattr(self, name)) for name in
               ("allowed_apps", "sensitive_apps", "browser_apps", "extension_browser_apps")}
        out["messaging_apps"] = AppGlobs((*self.messaging_apps, *self.process_categories.get("messaging", ())))
        for category in PROCESS_CATEGORIES:
            out[category] = AppGlobs(self.process_categories.get(category, ()))
        return out

    @cached_property
    def _hosts(self) -> HostGlobs:
        return HostGlobs(self.allowed_sites)

    # ---- questions both sides ask -------------------------------------------------------------

    def find_case_id(self, *texts: str) -> str | None:
        """The case ID in the first text one of ``case_id_patterns`` finds (group 1 or the match); a text
        that cannot be judged holds none."""
        return _first_found(self.case_res, texts)

    def mentions_case(self, *texts: str) -> bool:
        """Whether one of ``case_id_patterns`` is found in any of the texts (an unjudged one: not)."""
        budget = _budget_for(texts)
        return any(_hit(rx.search(t, budget)) for rx in self.case_res for t in texts)

    def find_customer(self, url: str) -> str | Unjudged | None:
        """The customer a URL shows: group 1 (or the match) of the first customer pattern found in it
        (:func:`customer_in`)."""
        return customer_in(url, self.customer_res)

    def is_customer_url(self, url: str) -> bool:
        """Whether a customer pattern is found in the URL; one that cannot be judged counts as found."""
        if not url:
            return False
        budget = _budget_for((url,))
        for rx in self.customer_res:
            m = rx.search(url, budget)
            if m is not None:  # found, or unjudged
                return True
        return False

    def is_browser(self, app: str) -> bool:
        return self._apps["browser_apps"].match(app)

    def is_extension_browser(self, app: str) -> bool:
        return self._apps["extension_browser_apps"].match(app)

    def is_sensitive_app(self, app: str) -> bool:
        return self._apps["sensitive_apps"].match(app)

    def is_messaging_app(self, app: str) -> bool:
        return self._apps["messaging_apps"].match(app)

    def is_allowed_app(self, app: str) -> bool:
        return not self.allowed_apps or self._apps["allowed_apps"].match(app)

    def is_listed_app(self, app: str) -> bool:
        """On the allow-list itself (False when the list is empty)."""
        return self._apps["allowed_apps"].match(app)

    def is_allowed_host(self, host: str) -> bool:
        return not self.allowed_sites or (bool(host) and self._hosts.match(host))

    def category_of(self, *names: str) -> str:
        """The first process category any of ``names`` falls in (``other`` when none)."""
        for category in PROCESS_CATEGORIES:
            if any(self._apps[category].match(n) for n in names if n):
                return category
        return "other"


_APP_KEYS: dict[str, str] = {}  # app_key is a pure function of the name, asked for every focus event
_APP_KEYS_MAX = 4096


def app_key(app: str) -> str:
    """Normalise an app or process name: lower case, no folder, no .exe/.app suffix."""
    if type(app) is str:
        key = _APP_KEYS.get(app)
        if key is None:
            key = _app_key(app)
            if len(_APP_KEYS) < _APP_KEYS_MAX:
                _APP_KEYS[app] = key
        return key
    return _app_key(app)


def _app_key(app: str) -> str:
    name = app.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    for suffix in (".exe", ".app"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


class AppGlobs:
    """Case-insensitive shell globs of normalised app names, compiled into one regular expression."""

    def __init__(self, patterns: Iterable[str]) -> None:
        keys_ = [app_key(p) for p in patterns if p.strip()]
        self._re = re.compile("|".join(fnmatch.translate(p) for p in keys_)) if keys_ else None
        self._seen: dict[str, bool] = {}

    def match(self, app: str) -> bool:
        if self._re is None or not app:
            return False
        hit = self._seen.get(app)
        if hit is None:
            hit = bool(self._re.match(app_key(app)))
            if len(self._seen) < 4096:
                self._seen[app] = hit
        return hit


class HostGlobs:
    """Case-insensitive host globs; a pattern without a wildcard also covers its subdomains."""

    def __init__(self, patterns: Iterable[str]) -> None:
        parts = []
        for p in (p.strip().lower().rstrip(".") for p in patterns):
            if not p:
                continue
            parts.append(fnmatch.translate(p) if any(c in p for c in "*?[") else
                         r"(?:.*\.)?" + re.escape(p) + r"\Z")
        self._re = re.compile("|".join(parts)) if parts else None

    def match(self, host: str) -> bool:
        return self._re is not None and bool(self._re.match(host.lower().rstrip(".")))


def customer_in(url: str, patterns: Iterable[PolicyPattern], budget: Budget | None = None) -> str | Unjudged | None:
    """The customer identifier in a URL: group 1 (or the match, for a pattern without a group) of the first
    pattern found in it (:meth:`contract.pattern_search.PolicyPattern.search`); None when none is, or when that
    group matched nothing. ``UNJUDGED`` (fail closed: a customer page, customer unknown) when no pattern was
    found and one of them could not be judged within the budget (default: one event's)."""
    if budget is None and len(url) > SHORT_CHARS:
        budget = event_budget()  # one for all the patterns (a short URL's searches need none)
    unjudged = False
    for rx in patterns:
        m = rx.search(url, budget)
        if isinstance(m, Unjudged):
            unjudged = True
        elif m is not None:
            found = m.group(1) if m.groups() else m.group(0)
            return found or None
    return UNJUDGED if unjudged else None


def _hit(m: object) -> bool:
    return m is not None and not isinstance(m, Unjudged)


def _budget_for(texts: Iterable[str]) -> Budget | None:
    """One budget for the questions about an event's texts; None when all are short (they need none)."""
    return event_budget() if any(len(t) > SHORT_CHARS for t in texts) else None


def _first_found(patterns: Iterable[PolicyPattern], texts: tuple[str, ...]) -> str | None:
    budget = _budget_for(texts)
    for rx in patterns:
        for text in texts:
            m = rx.search(text, budget) if text else None
            if m is not None and not isinstance(m, Unjudged):
                found = m.group(1) if m.groups() and m.group(1) else m.group(0)
                return str(found) or None
    return None


# ---- the table --------------------------------------------------------------------------------

def keys() -> tuple[dataclasses.Field[Any], ...]:
    """Every policy key, in table order."""
    return _KEYS


def key_names() -> frozenset[str]:
    return _NAMES


def default_of(f: dataclasses.Field[Any]) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def settings_table() -> list[tuple[str, str, Any, str]]:
    """(name, kind, default, help) of every policy key: the source of the docs."""
    return [(f.name, f.metadata["kind"], default_of(f), f.metadata["help"]) for f in keys()]


def markdown() -> str:
    """The policy keys as Markdown (the README embeds it; a test compares them)."""
    lines = ["| key | kind | read by | default | meaning |", "|---|---|---|---|---|"]
    for f in keys():
        default = Policy().to_dict()[f.name]
        shown = ", ".join(f"{k}: {len(v)} globs" for k, v in default.items()) if isinstance(default, dict) \
            else repr(default) if not isinstance(default, list) or len(default) <= 4 \
            else repr(default[:3])[:-1] + f", … ({len(default)} in all)]"
        shown = shown.replace("|", "\\|")
        lines.append(f"| `{f.name}` | {f.metadata['kind']} | {f.metadata['side']} | `{shown}` | "
                     f"{f.metadata['help']} |")
    return "\n".join(lines)


def _check(f: dataclasses.Field[Any], value: Any) -> Any:
    name, kind, lo, hi = f.name, f.metadata["kind"], f.metadata["lo"], f.metadata["hi"]
    if kind in ("regexes", "apps", "hosts", "paths", "triggers"):
        items = _str_list(name, value)
        if kind == "regexes":
            for p in items:
                try:
                    re.compile(p)
                except re.error as exc:
                    raise PolicyError(f"policy '{name}': bad regular expression {p!r}: {exc}") from exc
                reason = unsafe_construct(p)
                if reason is not None:
                    raise PolicyError(unsafe_message(name, p, reason))
        if kind == "triggers":
            bad = sorted(set(items) - SCREENSHOT_TRIGGERS)
            if bad:
                raise PolicyError(f"policy '{name}': unknown trigger(s) {', '.join(bad)}")
        return items
    if kind == "categories":
        if not isinstance(value, Mapping):
            raise PolicyError(f"policy '{name}': must be an object of category -> list of globs")
        bad = sorted(str(k) for k in set(value) - set(PROCESS_CATEGORIES))  # JSON keys are text; others too
        if bad:
            raise PolicyError(f"policy '{name}': unknown categories {', '.join(bad)}")
        given = {str(k): _str_list(f"{name}.{k}", v) for k, v in value.items()}
        return {**_CATEGORIES, **given}  # a category left out keeps its default globs
    if kind == "bool":
        if not isinstance(value, bool):
            raise PolicyError(f"policy '{name}': must be true or false")
        return value
    if kind == "clock":
        if not isinstance(value, str) or not _HHMM.match(value):
            raise PolicyError(f"policy '{name}': must be HH:MM (00:00 to 23:59)")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"policy '{name}': must be a number")
    if isinstance(value, float) and not math.isfinite(value):  # Python's json reads NaN and Infinity
        raise PolicyError(f"policy '{name}': must be a finite number")
    if kind == "seconds":
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            raise PolicyError(f"policy '{name}': must be a finite number") from None
        if not seconds > 0:
            raise PolicyError(f"policy '{name}': must be > 0 seconds")
        return seconds
    if int(value) != value:
        raise PolicyError(f"policy '{name}': must be a whole number")
    if lo is None:
        lo = 0
    if value < lo or (hi is not None and value > hi):
        raise PolicyError(f"policy '{name}': must be >= {lo:g}" + ("" if hi is None else f" and <= {hi:g}"))
    return int(value)


def unsafe_message(name: str, pattern: str, reason: str) -> str:
    return (f"policy '{name}': regular expression {pattern!r} is refused: it has {reason}; a crafted window "
            "title or URL could make matching it hang the sensors and the collector")


def _leave_out_unsafe(name: str, value: Any, disabled: list[str]) -> Any:
    """A stored list of regular expressions without those whose matching time is not linear (logged)."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        return value  # the key's own check refuses it
    kept = []
    for p in value:
        reason = None
        if isinstance(p, str):
            with contextlib.suppress(re.error):  # the key's own check refuses it
                reason = unsafe_construct(p)
        if reason is None:
            kept.append(p)
            continue
        disabled.append(f"{name}: {p}: {reason}")
        if (name, p) not in _LEFT_OUT:  # every agent's context reads the policy: the reason is logged once
            _LEFT_OUT.add((name, p))
            log.warning("policy '%s': regular expression %r left out: it has %s", name, p, reason)
    return type(value)(kept)


def _str_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise PolicyError(f"policy '{name}': must be a list of strings")
    if not all(isinstance(v, str) for v in value):
        raise PolicyError(f"policy '{name}': every item must be a string")
    return tuple(value)


_KEYS: tuple[dataclasses.Field[Any], ...] = tuple(f for f in dataclasses.fields(Policy) if "kind" in f.metadata)
_NAMES = frozenset(f.name for f in _KEYS)
