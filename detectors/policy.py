"""The policy as the detectors read it: what counts as work, as customer data and as a flagged tool.

:class:`Policy` is the detectors' part of the collector's policy object; :func:`policy_markdown`
documents its keys (README) from the same table of fields, defaults and help texts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from detectors.errors import InvalidInput

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")  # a local clock time, as the policy and shifts write it


def _p(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


_CATEGORY_FIELDS = {"remote_access": "remote_access_apps", "screen_capture": "screen_capture_apps",
                    "messaging": "messaging_apps"}


@dataclass(frozen=True)
class Policy:
    """What counts as work, as customer data and as a flagged tool; part of the collector's policy.

    ``from_dict`` ignores keys it does not know (the same policy object also carries agent-side
    settings such as the idle threshold) but validates the type of every key it does know. Its
    ``process_categories`` ({"remote_access": [...], "screen_capture": [...], "messaging": [...]}), if
    present, extend the matching app lists.
    """

    case_id_patterns: tuple[str, ...] = _p(
        (r"C-\d{4}-\d{7}",), "Regular expressions of case numbers; a page whose URL or title has one is "
        "covered by a case.")
    customer_url_patterns: tuple[str, ...] = _p(
        (r"/customers?/(\d+)",), "Regular expressions of customer page URLs; group 1 (or the match) is the "
        "customer.")
    allowed_apps: tuple[str, ...] = _p((
        "crm", "chrome", "msedge", "firefox", "agentbar", "microsip", "zoiper5", "softphone", "outlook",
        "excel", "winword", "notepad", "explorer", "calc", "onedrive", "wemeetapp", "wxwork", "dingtalk",
        "seatguard", "seatguard-agent", "lockapp", "logonui",
    ), "Apps allowed at the seat (process names; case and .exe do not matter); empty: all allowed.")
    allowed_sites: tuple[str, ...] = _p(
        ("crm.internal", "kb.internal", "lender.example"), "Allowed web sites (a host or its parent domain); "
        "empty: all allowed.")
    browser_apps: tuple[str, ...] = _p(
        ("chrome", "msedge", "firefox", "safari", "brave", "opera", "360se"),
        "Browsers: their minutes count as on- or off-list by the site in front.")
    messaging_apps: tuple[str, ...] = _p((
        "wxwork", "wechat", "weixin", "qq", "tim", "dingtalk", "feishu", "lark", "telegram", "whatsapp",
        "skype", "slack", "discord", "line", "signal",
    ), "Messaging apps (even allowed ones): copies followed by a switch to them are counted.")
    sensitive_apps: tuple[str, ...] = _p(
        ("crm",), "Apps showing customer data: any copy made in them counts as a copy of customer data.")
    remote_access_apps: tuple[str, ...] = _p((
        "teamviewer", "anydesk", "todesk", "sunlogin", "rustdesk", "mstsc", "vnc", "parsec", "remoting_host",
    ), "Remote access tools (name prefixes), besides processes the agent reports as remote_access.")
    screen_capture_apps: tuple[str, ...] = _p((
        "obs", "bdcam", "bandicam", "evcapture", "camtasia", "sharex", "snagit", "screenrec",
    ), "Screen capture tools (name prefixes), besides processes the agent reports as screen_capture.")
    night_start: str = _p("22:00", "Start of the night (HH:MM, local time).")
    night_end: str = _p("06:00", "End of the night (HH:MM, local time).")
    paste_window_s: float = _p(30.0, "Seconds after a copy in which switching to an app counts as taking it there.")
    shift_grace_min: int = _p(30, "Minutes before and after the shift that do not count as outside it.")
    silence_min_gap_min: int = _p(3, "Shortest run of minutes without any event that counts as silence.")
    stop_grace_min: int = _p(
        10, "Minutes a clean agent.stop may last without counting: a reboot or update that restarts the agent "
        "within them, or a stop this close to the end of the shift.")
    retire_grace_min: int = _p(
        60, "The gap that ends an agent's day does not count when the admin retires the agent (revoke) at "
        "most this many minutes after it began (the uninstall).")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        for pattern in (*self.case_id_patterns, *self.customer_url_patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InvalidInput(f"policy: bad regular expression {pattern!r} ({exc})") from exc
        for name in ("night_start", "night_end"):
            if not HHMM.match(getattr(self, name)):
                raise InvalidInput(f"policy: {name} must be HH:MM")
        if not self.paste_window_s > 0 or self.silence_min_gap_min < 1 \
                or not 0 <= self.shift_grace_min <= 180 or not 0 <= self.stop_grace_min <= 120 \
                or not 0 <= self.retire_grace_min <= 1440:
            raise InvalidInput("policy: paste_window_s must be > 0, silence_min_gap_min >= 1, "
                               "shift_grace_min within 0..180, stop_grace_min within 0..120 and "
                               "retire_grace_min within 0..1440")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Policy:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise InvalidInput("policy must be a JSON object")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            default = f.default
            if isinstance(default, tuple):
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    raise InvalidInput(f"policy: {f.name} must be a list of strings")
                kwargs[f.name] = tuple(value)
            elif isinstance(default, str):
                if not isinstance(value, str):
                    raise InvalidInput(f"policy: {f.name} must be a string")
                kwargs[f.name] = value
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InvalidInput(f"policy: {f.name} must be a number")
                kwargs[f.name] = float(value) if isinstance(default, float) else int(value)
        categories = data.get("process_categories") or {}
        if not isinstance(categories, dict):
            raise InvalidInput("policy: process_categories must map a category to a list of names")
        for category, target in _CATEGORY_FIELDS.items():
            names = categories.get(category) or []
            if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
                raise InvalidInput(f"policy: process_categories.{category} must be a list of strings")
            if names:
                base = kwargs.get(target, getattr(cls, target))
                kwargs[target] = tuple(dict.fromkeys([*base, *names]))
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}



def policy_markdown() -> str:
    """The policy keys the rollups read, as Markdown, generated from :class:`Policy`."""
    lines = ["| policy key | default | meaning |", "|---|---|---|"]
    for f in fields(Policy):
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        lines.append(f"| `{f.name}` | `{default}` | {f.metadata['help']} |")
    return "\n".join(lines)
