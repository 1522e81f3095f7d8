"""Per agent-day rollups, kept at ingest so that reports never rescan raw events.

The collector keeps one :class:`DayRollup` per agent and calendar day (in the agent's time zone),
feeds it every validated, masked v1 event of that day with :meth:`DayRollup.add`, reports integrity
problems it saw itself (sequence gaps, broken batch chains) with :meth:`DayRollup.add_integrity`, and
stores :meth:`DayRollup.to_state` between batches. :meth:`DayRollup.features` gives the numbers the
detectors use; every one of them is documented in :data:`FEATURES`.

Events may arrive in any order and in several batches: the rollup keeps order-independent summaries
(minute bitmaps, counters, bounded lists of moments) and resolves anything order-dependent ("the copy
was followed by a switch to a chat app") only when features or evidence are asked for. A list at its
bound is settled into exact totals, never closed to later events (:mod:`detectors.bounds`); silences
and stops in the shift are :mod:`detectors.presence`'s. Each event must be added once (the collector
dedupes re-sent batches before this point).
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Collection, Iterable
from copy import deepcopy
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from detectors import bounds, outside, presence
from detectors.bounds import (
    MAX_APPS,
    MAX_CUSTOMERS,
    MAX_EVIDENCE_PER_KIND,
    MAX_MOMENTS,
    MAX_PAGES,
    MAX_SPANS,
    ceil_div,
)
from detectors.bounds import bits as _bits
from detectors.errors import InvalidInput
from detectors.need_to_know import NO_CUSTOMER, CustomerKeyer, CustomerRef, CustomerSets, customer_in

STATE_VERSION = 1
ROLES = ("agent", "lead")
INTEGRITY_KINDS = ("seq_gap", "chain_break", "batch_gap", "unsigned_answers", "policy_mismatch")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

SLOT_MIN = 10             # evidence seq anchors and activity strip resolution
_LATER_KEYS: dict[str, Any] = {"dropped": []}  # state keys newer than STATE_VERSION 1 (older states lack them)


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({_app_key(v) for v in values if v}))


def _p(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


def _app_key(app: str) -> str:
    """Normalise an app or process name: lower case, no folder, no .exe/.app suffix."""
    name = app.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    for suffix in (".exe", ".app"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


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
            if not _HHMM.match(getattr(self, name)):
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


@dataclass(frozen=True)
class AgentContext:
    """Who the agent is for the purpose of one day's rollup and comparison with peers."""

    agent_id: str
    team: str
    role: str = "agent"
    shift_start: str = "09:00"
    shift_end: str = "18:00"
    tz: str = "Asia/Shanghai"
    policy: Policy = field(default_factory=Policy)
    retired_at: float | None = None  # when the admin retired (revoked) the agent, epoch seconds
    overtime: tuple[tuple[str, str], ...] = ()  # scheduled overtime windows (HH:MM, HH:MM): in the shift

    def __post_init__(self) -> None:
        if not isinstance(self.agent_id, str) or not re.match(r"^[A-Za-z0-9._-]{1,64}$", self.agent_id):
            raise InvalidInput("context: agent_id must match [A-Za-z0-9._-]{1,64}")
        if not isinstance(self.team, str) or not self.team:
            raise InvalidInput("context: team must be a non-empty string")
        if self.role not in ROLES:
            raise InvalidInput(f"context: role must be one of {', '.join(ROLES)}")
        for name in ("shift_start", "shift_end"):
            if not isinstance(getattr(self, name), str) or not _HHMM.match(getattr(self, name)):
                raise InvalidInput(f"context: {name} must be HH:MM")
        if not isinstance(self.overtime, tuple) or not all(
                isinstance(w, tuple) and len(w) == 2 and all(isinstance(x, str) and _HHMM.match(x) for x in w)
                for w in self.overtime):
            raise InvalidInput("context: overtime must be (HH:MM, HH:MM) windows")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"context: unknown time zone {self.tz!r}") from exc
        if not isinstance(self.policy, Policy):
            raise InvalidInput("context: policy must be a Policy")
        if self.retired_at is not None and (isinstance(self.retired_at, bool)
                                            or not isinstance(self.retired_at, int | float)):
            raise InvalidInput("context: retired_at must be epoch seconds")


@dataclass(frozen=True)
class Feature:
    """One documented per agent-day number.

    ``direction`` says which deviation deserves a look ("up": more is suspicious, "down": less is,
    "both"); ``floor`` is the smallest spread the comparison with peers or history assumes, in the
    feature's unit, so that "0 for everyone, 1 for this agent" does not become an infinite z-score.
    Events that should never happen on an ordinary day (a removable-drive write, a remote access tool)
    have a floor of 0.25: one of them is four spreads away from a peer group of zeros.
    """

    name: str
    unit: str
    direction: str
    floor: float
    help_en: str
    help_zh: str


FEATURES: tuple[Feature, ...] = (
    Feature("active_min", "min", "up", 30, "Minutes with input activity (present and not idle).",
            "有输入活动的分钟数（在线且未空闲）。"),
    Feature("idle_min", "min", "both", 15, "Minutes the PC was on but idle.", "电脑开着但空闲的分钟数。"),
    Feature("idle_share", "ratio", "down", 0.05, "Share of the minutes the agent reported that were idle.",
            "上报时间中空闲时间的占比。"),
    Feature("idle_periods", "count", "down", 2,
            "Idle periods (no input for the policy's idle threshold), however long.",
            "空闲时段数（达到策略空闲阈值无输入），不论长短。"),
    Feature("longest_active_min", "min", "up", 30,
            "Longest run of active minutes without one idle period (absences shorter than "
            "silence_min_gap_min bridged); a mouse mover keeps it going all shift.",
            "最长的连续活动分钟数，期间没有任何空闲时段（短于 silence_min_gap_min 的缺失视为连续）；"
            "鼠标摇摆器可让其贯穿整个班次。"),
    Feature("input_regularity", "ratio", "up", 0.2,
            "How clockwork the idle periods are: 1 minus the larger coefficient of variation of their lengths "
            "and of the times from one's start to the next, over 0.25 (0 below 12 idle periods or above that "
            "variation, as for people, courses and meetings); input on a timer comes near 1.",
            "空闲时段的规律程度：1 减去空闲时长与相邻空闲开始间隔两者中较大的变异系数除以 0.25（少于 12 个空闲时段"
            "或变异更大时为 0，如常人、培训、会议）；定时输入接近 1。"),
    Feature("first_activity", "min vs shift", "down", 20,
            "First active minute relative to the day's shift start (negative: before it; 0 without activity), "
            "less the share of the early outside-shift time that casework at the day's pace accounts for "
            "(overtime).",
            "首次活动时间相对当天排班开始的分钟数（负数为提前；无活动时为 0），"
            "扣除班前时间中可由当天办案节奏解释的比例（加班）。"),
    Feature("last_activity", "min vs shift", "up", 20,
            "End of the last active minute relative to the day's shift end (positive: after it), less the share "
            "of the late outside-shift time that casework at the day's pace accounts for (overtime).",
            "最后活动时间相对当天排班结束的分钟数（正数为延后），"
            "扣除班后时间中可由当天办案节奏解释的比例（加班）。"),
    Feature("outside_shift_min", "min", "up", 15,
            "Active minutes outside the day's shift (with scheduled overtime) and its grace period (policy "
            "shift_grace_min) that casework at the day's in-shift pace does not account for (overtime is not "
            "counted).",
            "当天排班（含已排加班）及宽限期（策略 shift_grace_min）以外、按当天班内办案节奏无法由办案解释的活动分钟数"
            "（加班不计）。"),
    Feature("night_min", "min", "up", 10,
            "Of those minutes, the ones at night (policy night_start to night_end).",
            "其中处于夜间（按策略的夜间时段）的分钟数。"),
    Feature("outside_shift_lookups", "count", "up", 1,
            "Outside the day's shift and its grace: customer pages opened with no case, copies of customer "
            "data and removable-drive writes (snooping, not overtime).",
            "排班及宽限期以外：无案件时打开的客户页面、复制客户数据和写入移动存储的次数（窥探而非加班）。"),
    Feature("cases_closed", "count", "both", 3, "Cases closed.", "结案数。"),
    Feature("handle_mean_s", "s", "both", 60, "Mean handling time of closed cases (wall clock).",
            "已结案件的平均处理时长（秒）。"),
    Feature("handle_median_s", "s", "both", 60, "Median handling time of closed cases.",
            "已结案件的处理时长中位数（秒）。"),
    Feature("cases_per_hour", "per active h", "down", 0.5, "Cases closed per active hour.",
            "每活动小时结案数。"),
    Feature("utilisation", "ratio", "down", 0.1, "Share of active minutes with a case open.",
            "有案件打开的活动时间占比。"),
    Feature("customers_viewed", "count", "up", 3, "Distinct customers whose pages were opened.",
            "查看过页面的不同客户数。"),
    Feature("customer_pages", "count", "up", 5, "Customer pages opened.", "打开的客户页面数。"),
    Feature("pages_without_case", "count", "up", 1,
            "Customer pages opened with no case open and no case number in the page, of customers nobody in "
            "scope had a case for that day (need-to-know; scope: the team by default, collector setting "
            "need_to_know_scope).",
            "在没有打开案件、页面也不含案件号时打开的客户页面数，且当天范围内（默认本团队，采集端设置 "
            "need_to_know_scope）无人办理该客户的案件（按需知密）。"),
    Feature("reviewed_customers", "count", "up", 3,
            "Customers opened with no case of the agent's own that a colleague in scope had a case for that "
            "day (reviews of others' cases: routine for leads).",
            "自己未办理案件、但当天范围内同事办理过案件的客户数（复核他人案件：组长的日常工作）。"),
    Feature("copies", "count", "up", 3, "Copy or cut actions.", "复制或剪切次数。"),
    Feature("copied_ids", "count", "up", 1, "National ID numbers copied.", "复制的身份证号数量。"),
    Feature("copied_phones", "count", "up", 2, "Phone numbers copied.", "复制的手机号数量。"),
    Feature("copied_cards", "count", "up", 1, "Bank card numbers copied.", "复制的银行卡号数量。"),
    Feature("copies_to_offlist", "count", "up", 1,
            "Copies of customer data followed within the paste window by a switch to a non-allowed or "
            "messaging app.", "复制客户数据后在粘贴窗口内切换到非白名单或聊天软件的次数。"),
    Feature("ids_to_messaging", "count", "up", 0.25,
            "ID numbers in copies followed within the paste window by a switch to a messaging app.",
            "复制后在粘贴窗口内切换到聊天软件的身份证号数量。"),
    Feature("removable_writes", "count", "up", 0.25, "File writes to removable drives.",
            "写入移动存储的文件数。"),
    Feature("removable_mb", "MB", "up", 1, "Megabytes written to removable drives.",
            "写入移动存储的数据量（MB）。"),
    Feature("drive_mounts", "count", "up", 0.25, "Removable drives mounted.", "插入的移动存储设备次数。"),
    Feature("remote_access_starts", "count", "up", 0.25, "Remote access tools started.",
            "远程控制软件启动次数。"),
    Feature("remote_access_min", "min", "up", 5, "Active minutes with a remote access tool in front.",
            "远程控制软件在前台的活动分钟数。"),
    Feature("screen_capture_starts", "count", "up", 0.25, "Screen capture or recording tools started.",
            "截屏或录屏软件启动次数。"),
    Feature("screen_capture_min", "min", "up", 5, "Active minutes with a screen capture tool in front.",
            "截屏或录屏软件在前台的活动分钟数。"),
    Feature("messaging_min", "min", "up", 10, "Active minutes in messaging apps.", "聊天软件的活动分钟数。"),
    Feature("offlist_app_min", "min", "up", 10, "Active minutes in apps outside the allow-list.",
            "白名单以外应用的活动分钟数。"),
    Feature("offlist_site_min", "min", "up", 10, "Active browser minutes on sites outside the allow-list.",
            "浏览白名单以外网站的活动分钟数。"),
    Feature("silent_shift_min", "min", "up", 10,
            "Shift minutes, after the agent first reported, with no event at all and no clean stop before "
            "(missing heartbeats, agent killed or cut off).",
            "首次上报后、排班时间内既无任何事件又非正常停止的分钟数（心跳缺失、客户端被杀或断网）。"),
    Feature("seq_missing", "count", "up", 0.25,
            "Events missing from the sequence (seq gaps seen by the collector).",
            "序号缺失的事件数（采集端发现的序号空缺）。"),
    Feature("chain_breaks", "count", "up", 0.25, "Broken batch hash chains.", "批次哈希链断裂次数。"),
    Feature("batch_gaps", "count", "up", 0.25, "Missing upload batches.", "缺失的上传批次数。"),
    Feature("screenshots", "count", "up", 0.25, "Policy-triggered screenshots.", "策略触发的截屏次数。"),
    Feature("focus_switches", "count", "both", 20, "Window focus changes.", "窗口切换次数。"),
    Feature("pages", "count", "both", 10, "Browser pages opened.", "打开的网页数。"),
    Feature("stops_in_shift", "count", "up", 0.25,
            "Clean agent stops during the shift that lasted more than the policy's stop_grace_min (not a "
            "quick restart, not the end of the shift, not the admin's uninstall).",
            "排班时间内超过策略 stop_grace_min 的客户端正常停止次数（非快速重启、非下班、非管理员卸载）。"),
    Feature("stopped_shift_min", "min", "up", 10,
            "Shift minutes the agent spent stopped after such a clean stop.",
            "上述正常停止后客户端在排班时间内处于停止状态的分钟数。"),
    Feature("returns_in_shift", "count", "up", 0.25,
            "Times the agent came back while the shift went on: after a stop counted in stops_in_shift, or "
            "started again with no clean stop before it (killed or crashed, often after a silence). A gap "
            "that ends the agent's day is not one, nor a silence the same agent process resumes from.",
            "排班时间内客户端中断后又恢复的次数：计入停止次数的停止之后恢复，或在没有正常停止的情况下重新启动（被杀或崩溃，"
            "常在静默之后）。以当天结束告终的中断不计，同一进程从静默中恢复也不计。"),
    Feature("spool_dropped", "count", "up", 0.25,
            "Events the agent's spool dropped during the day (rise of the heartbeats' dropped_total).",
            "当天客户端本地缓存丢弃的事件数（心跳 dropped_total 的增加）。"),
    Feature("rollup_bound_hits", "count", "up", 0.25,
            "Rollup bounds the day reached (thousands of copies, switches, pages, apps, idle periods or "
            "cases); every event still counts, but a day like that needs a look.",
            "当天触及的汇总上限数（成千上万次复制、切换、页面、应用、空闲或案件）；事件仍全部计入，但需要查看。"),
    Feature("unsigned_answers", "count", "up", 0.25,
            "Answers the agent refused because their receipt or policy signature did not verify (something "
            "other than the collector answered it).",
            "客户端因回执或策略签名无效而拒绝的应答数（有采集端以外的程序冒充应答）。"),
    Feature("policy_mismatches", "count", "up", 0.25,
            "Batches whose heartbeats show a policy the collector did not issue, or an outdated one.",
            "心跳显示运行的策略并非采集端下发或已过期的批次数。"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


def features_markdown() -> str:
    """The feature table as Markdown (for the README), generated from :data:`FEATURES`."""
    lines = ["| feature | unit | look at | meaning | 含义 |", "|---|---|---|---|---|"]
    look = {"up": "higher", "down": "lower", "both": "either way"}
    for f in FEATURES:
        lines.append(f"| `{f.name}` | {f.unit} | {look[f.direction]} | {f.help_en} | {f.help_zh} |")
    return "\n".join(lines)


def policy_markdown() -> str:
    """The policy keys the rollups read, as Markdown, generated from :class:`Policy`."""
    lines = ["| policy key | default | meaning |", "|---|---|---|"]
    for f in fields(Policy):
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        lines.append(f"| `{f.name}` | `{default}` | {f.metadata['help']} |")
    return "\n".join(lines)
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}

# focus codes
_WORK, _OFFLIST, _MESSAGING, _REMOTE, _CAPTURE, _BROWSER = range(6)
_USER_KINDS = frozenset({"app.focus", "page.open", "clipboard.copy", "case.open", "case.close", "file.write",
                         "process.start", "input.active", "device.mount"})
_CATEGORY_CODE = {"messaging": _MESSAGING, "remote_access": _REMOTE, "screen_capture": _CAPTURE}
_NAMED = frozenset({_WORK, _OFFLIST, _BROWSER})  # past MAX_APPS only flagged tools keep their names


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=5).digest(), "big")


_LOCAL_KEYER = CustomerKeyer.ephemeral()  # for rollups fed without keys found before masking (one process)
_CUSTOMER_STATE = {"cased": [], "uncased": {}, "unkeyed": 0}  # the need-to-know sets (added after v1 began)


def _add_key(keys: list[str], key: str) -> bool:
    """Add to a sorted list of distinct keys, up to MAX_CUSTOMERS; False when it is full."""
    pos = bisect.bisect_left(keys, key)
    if pos < len(keys) and keys[pos] == key:
        return True
    if len(keys) >= MAX_CUSTOMERS:
        return False
    keys.insert(pos, key)
    return True


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _clock(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _add_minute(minutes: list[int], minute: int) -> None:
    """Add to a sorted list of distinct minutes of the day (bounded by the day's length)."""
    pos = bisect.bisect_left(minutes, minute)
    if pos == len(minutes) or minutes[pos] != minute:
        minutes.insert(pos, minute)


class DayRollup:
    """Incremental summary of one agent's events on one calendar day (see the module docstring)."""

    def __init__(self, ctx: AgentContext, day: date, state: dict[str, Any]) -> None:
        self.ctx = ctx
        self.day = day
        self._s = state
        zone = ZoneInfo(ctx.tz)
        midnight = datetime.combine(day, time(0), zone)
        self._t0 = midnight.timestamp()
        self._zone = zone
        self.n_min = int(round((datetime.combine(day + timedelta(days=1), time(0), zone).timestamp()
                                - self._t0) / 60))
        windows = [(_minutes(ctx.shift_start), _minutes(ctx.shift_end)),
                   *((_minutes(a), _minutes(b)) for a, b in ctx.overtime)]
        self._shift = self._graced = 0
        grace = ctx.policy.shift_grace_min
        for a, b in windows:  # the shift and its scheduled overtime, each with the grace around it
            shift = outside.window_bits(a, b, self.n_min)
            self._shift |= shift
            self._graced |= shift if a == b else outside.window_bits(a - grace, b + grace, self.n_min)
        self._shift_start, self._shift_end = outside.extended(*windows[0], windows[1:])
        self._before, self._after = outside.sides(self._shift_start, self._shift_end, grace, self.n_min)
        self._night = self._window(ctx.policy.night_start, ctx.policy.night_end)
        pol = ctx.policy
        self._case_re = [re.compile(p) for p in pol.case_id_patterns]
        self._cust_re = [re.compile(p) for p in pol.customer_url_patterns]
        self._allowed = _names(pol.allowed_apps)
        self._sites = tuple(s.lower() for s in pol.allowed_sites)
        self._browsers = _names(pol.browser_apps)
        self._static = {a: _MESSAGING for a in _names(pol.messaging_apps)}
        self._prefixes = ((_names(pol.remote_access_apps), _REMOTE), (_names(pol.screen_capture_apps), _CAPTURE))
        self._sensitive = _names(pol.sensitive_apps)
        self._app_index = {name: i for i, name in enumerate(state["apps"])}

    # ------------------------------------------------------------------ construction and state
    @classmethod
    def new(cls, ctx: AgentContext, day: date) -> DayRollup:
        return cls(ctx, day, cls._empty(ctx.agent_id, day))

    @staticmethod
    def _empty(agent_id: str, day: date) -> dict[str, Any]:
        return {
            "v": STATE_VERSION, "agent_id": agent_id, "day": day.isoformat(),
            "events": 0, "misrouted": 0, "present": 0, "slot_seq": {}, "starts": [], "stops": [],
            "idle_starts": [], "idle_spans": [], "case_spans": [], "closed": [], "open_cases": {},
            "handle_n": 0, "handle_sum": 0.0, "customers": [], "customer_pages": 0,
            "cust_pages": [], "copies": 0, "ids": 0, "phones": 0, "cards": 0, "sens_copies": [],
            "switches": [], "focus": {}, "site": {}, "apps": [], "proc_cat": {},
            "removable_writes": 0, "removable_bytes": 0, "drive_mounts": 0,
            "proc_starts": {"remote_access": 0, "screen_capture": 0}, "screenshots": 0,
            "focus_switches": 0, "pages": 0, "integrity": {k: 0 for k in INTEGRITY_KINDS},
            "outside": [], "evidence": [], **bounds.defaults(), **outside.defaults(), **deepcopy(_CUSTOMER_STATE),
            **deepcopy(_LATER_KEYS),
        }

    @classmethod
    def from_state(cls, ctx: AgentContext, state: dict[str, Any]) -> DayRollup:
        if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
            raise InvalidInput(f"rollup state: expected a version {STATE_VERSION} state object")
        if state.get("agent_id") != ctx.agent_id:
            raise InvalidInput("rollup state: belongs to another agent")
        state = {**bounds.defaults(), **outside.defaults(), **deepcopy(_CUSTOMER_STATE), **deepcopy(_LATER_KEYS),
                 **state}
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise InvalidInput(f"rollup state: missing {', '.join(missing)}")
        try:
            day = date.fromisoformat(state["day"])
            restored = deepcopy(state)
            bounds.upgrade(restored)
            for key in bounds.BITMAPS:
                restored[key] = int(state[key], 16) if isinstance(state[key], str) else 0
            restored["slot_seq"] = {int(k): int(v) for k, v in state["slot_seq"].items()}
            restored["focus"] = {int(k): list(v) for k, v in state["focus"].items()}
            restored["site"] = {int(k): list(v) for k, v in state["site"].items()}
            restored["open_cases"] = {str(k): list(v) for k, v in state["open_cases"].items()}
            # customers were once a plain hash (int); keep their count, never match them to keys
            restored["customers"] = sorted({c if isinstance(c, str) else f"o{int(c):x}" for c in state["customers"]})
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"rollup state: malformed ({exc})") from exc
        return cls(ctx, day, restored)

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the rollup (bounded size: no raw event lists)."""
        out = deepcopy(self._s)
        for key in bounds.BITMAPS:
            out[key] = format(self._s[key], "x")
        out["slot_seq"] = {str(k): v for k, v in self._s["slot_seq"].items()}
        out["focus"] = {str(k): v for k, v in self._s["focus"].items()}
        out["site"] = {str(k): v for k, v in self._s["site"].items()}
        return out

    # ------------------------------------------------------------------ ingest
    def _window(self, start: str, end: str) -> int:
        a, b = _minutes(start), _minutes(end)
        if a == b:
            return _bits(0, self.n_min)
        if a < b:
            return _bits(a, min(b, self.n_min))
        return _bits(0, b) | _bits(a, self.n_min)

    def _sec(self, ts: str) -> float:
        try:
            return datetime.fromisoformat(ts).timestamp() - self._t0
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"event ts {ts!r} is not RFC 3339") from exc

    def _app(self, name: str, sec: float, seq: int) -> int:
        key = _app_key(name)
        idx = self._app_index.get(key)
        if idx is None:
            apps = self._s["apps"]
            if len(apps) >= MAX_APPS:
                bounds.hit(self._s, "apps", sec, seq)
                code = self._classify(key)
                if code in _NAMED or len(apps) >= 2 * MAX_APPS:  # by class only: -2 - code (-1: old "other")
                    return -2 - code
            idx = len(apps)
            apps.append(key)
            self._app_index[key] = idx
        return idx

    def _evidence(self, kind: str, sec: float, seq: int, **params: Any) -> None:
        """Keep the earliest MAX_EVIDENCE_PER_KIND moments of each kind (whatever the arrival order)."""
        ev = self._s["evidence"]
        same = [k for k, e in enumerate(ev) if e[0] == kind]
        item = [kind, int(sec), seq, params]
        if len(same) < MAX_EVIDENCE_PER_KIND:
            ev.append(item)
            return
        latest = max(same, key=lambda k: (ev[k][1], ev[k][2]))
        if (item[1], item[2]) < (ev[latest][1], ev[latest][2]):
            ev[latest] = item

    def add(self, event: dict[str, Any], customer: CustomerRef | None = None) -> None:
        """Fold one validated, masked v1 event of this agent and day into the rollup.

        ``customer``: the customer of a page.open as the caller found and keyed it before masking
        (:data:`~detectors.need_to_know.NO_CUSTOMER`: none); without it the rollup looks in the masked
        URL itself and keys with a secret of this process only (evaluation and tests)."""
        try:
            kind, seq, ts = event["kind"], int(event["seq"]), event["ts"]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"event: missing or bad envelope ({exc})") from exc
        if event.get("agent_id", self.ctx.agent_id) != self.ctx.agent_id:
            raise InvalidInput("event: belongs to another agent")
        sec = self._sec(ts)
        s = self._s
        minute = int(sec // 60)
        if not 0 <= minute < self.n_min:
            s["misrouted"] += 1
            return
        s["events"] += 1
        s["present"] |= 1 << minute
        slot = minute // SLOT_MIN
        if seq > s["slot_seq"].get(slot, 0):
            s["slot_seq"][slot] = seq
        if kind in _USER_KINDS and not (self._shift >> minute) & 1:
            out = s["outside"]
            if not out:
                out.extend([[sec, seq], [sec, seq]])
            elif sec < out[0][0]:
                out[0] = [sec, seq]
            elif sec > out[1][0]:
                out[1] = [sec, seq]
        handler = _HANDLERS.get(kind)
        if handler is not None:
            try:
                if kind == "page.open":
                    self._on_page(event, sec, seq, customer)
                else:
                    handler(self, event, sec, seq)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInput(f"event {kind}: bad fields ({exc})") from exc

    def add_integrity(self, kind: str, count: int = 1) -> None:
        """Record integrity problems the collector found: ``seq_gap`` (count = missing events),
        ``chain_break``, ``batch_gap``, ``unsigned_answers`` (count = answers the agent refused) or
        ``policy_mismatch``."""
        if kind not in INTEGRITY_KINDS:
            raise InvalidInput(f"integrity kind must be one of {', '.join(INTEGRITY_KINDS)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput("integrity count must be a non-negative integer")
        self._s["integrity"][kind] = self._s["integrity"].get(kind, 0) + count  # older states lack new kinds

    def _on_start(self, e: dict[str, Any], sec: float, seq: int) -> None:
        _add_minute(self._s["starts"], int(sec // 60))

    def _on_stop(self, e: dict[str, Any], sec: float, seq: int) -> None:
        _add_minute(self._s["stops"], int(sec // 60))

    def _on_heartbeat(self, e: dict[str, Any], sec: float, seq: int) -> None:
        """Keep the spool's drop counter at the day's first and last heartbeat (by seq)."""
        dropped = e.get("dropped_total")
        if isinstance(dropped, bool) or not isinstance(dropped, int | float) or dropped < 0:
            return
        ends = self._s["dropped"]
        item = [seq, int(dropped), int(sec)]
        if not ends:
            ends.extend([item, list(item)])
        elif seq < ends[0][0]:
            ends[0] = item
        elif seq > ends[1][0]:
            ends[1] = item

    def _on_focus(self, e: dict[str, Any], sec: float, seq: int) -> None:
        s = self._s
        s["focus_switches"] += 1
        s["horizon"] = max(s["horizon"], int(sec))  # the latest switch or copy: the pairing's clock
        app = self._app(str(e["app"]), sec, seq)
        minute = int(sec // 60)
        cur = s["focus"].get(minute)
        if cur is None or seq > cur[0]:
            s["focus"][minute] = [seq, app]
        key = s["apps"][app] if app >= 0 else ""
        flagged = app < 0 or key not in self._allowed or key in self._static or self._code(app) != _WORK
        if flagged:
            self._keep_switch([int(sec), seq, app])

    def _keep_switch(self, item: list[Any]) -> None:
        """Keep a switch to a flagged app; when full, forget those no kept copy precedes, then settle.

        Below the bound the pairing does not depend on arrival order; a flood of switches that follow
        no sensitive copy is forgotten instead of crowding out the later ones that do.
        """
        s = self._s
        switches = s["switches"]
        if len(switches) >= MAX_MOMENTS:
            window = self.ctx.policy.paste_window_s
            copies = sorted(c[0] for c in s["sens_copies"])

            def pairable(sw: list[Any]) -> bool:
                pos = bisect.bisect_right(copies, sw[0]) - 1
                return pos >= 0 and sw[0] - copies[pos] <= window

            switches[:] = [sw for sw in switches if pairable(sw)]
            if len(switches) >= MAX_MOMENTS // 2:  # many copies, each followed by flagged switches
                switches.sort()
                self._settle_copies(item[0], item[1], "switches", before=switches[-(MAX_MOMENTS // 4)][0])
                del switches[: -(MAX_MOMENTS // 4)]
        switches.append(item)

    def _keep_copy(self, item: list[Any], sec: float) -> None:
        """Keep a sensitive copy; when full, settle those whose paste window has passed."""
        if len(self._s["sens_copies"]) >= MAX_MOMENTS:
            self._settle_copies(sec, item[1], "copies")
        self._s["sens_copies"].append(item)

    def _settle_copies(self, sec: float, seq: int, bound: str, before: float | None = None) -> None:
        """Fold the copies whose paste window closed before the latest event (or that were made
        before ``before``) into exact totals, with the switches still kept."""
        s = self._s
        bounds.hit(s, bound, sec, seq)
        window = self.ctx.policy.paste_window_s
        pairs = {copy[1]: (copy, switch, code) for copy, switch, code in self._offlist_copies()}
        copies = sorted(s["sens_copies"])
        done = [c for c in copies if c[0] + window < s["horizon"] or (before is not None and c[0] < before)]
        if before is None and len(done) < len(copies) // 4:  # a flood inside one paste window
            done = copies[: len(copies) // 2]
        gone = {c[1] for c in done}
        for c in done:
            if c[1] in pairs:
                copy, switch, code = pairs[c[1]]
                s["settled"]["offlist"] += 1
                if code == _MESSAGING:
                    s["settled"]["ids_msg"] += copy[2]
                bounds.keep_top(s["pair_ev"], self._pair_moment(copy, switch, code), _pair_rank)
        s["sens_copies"] = [c for c in copies if c[1] not in gone]

    def _on_page(self, e: dict[str, Any], sec: float, seq: int, ref: CustomerRef | None = None) -> None:
        s = self._s
        s["pages"] += 1
        url, title = str(e["url"]), str(e.get("title", ""))
        minute = int(sec // 60)
        app = self._app(str(e.get("app", "")) or "browser", sec, seq)
        cur = s["focus"].get(minute)
        if cur is None or seq > cur[0]:
            s["focus"][minute] = [seq, app]
        host = (urlsplit(url).hostname or "").lower()
        allowed = not self._sites or any(host == d or host.endswith("." + d) for d in self._sites)
        cur = s["site"].get(minute)
        if cur is None or seq > cur[0]:
            s["site"][minute] = [seq, 0 if allowed else 1]
        if not allowed:
            self._evidence("offlist_site", sec, seq, host=_short(host, 60))
        shown = customer_in(url, self._cust_re)  # in the masked URL: what evidence may show
        if ref is None:
            ref = NO_CUSTOMER if shown is None else _LOCAL_KEYER.ref(shown)
        if not ref.key:
            return
        s["customer_pages"] += 1
        if not _add_key(s["customers"], ref.key):
            bounds.hit(s, "customers", sec, seq)
        has_case = any(rx.search(url) or rx.search(title) for rx in self._case_re)
        if has_case:
            if not _add_key(s["cased"], ref.key):
                bounds.hit(s, "customers", sec, seq)
        else:
            if len(s["cust_pages"]) >= MAX_PAGES:
                self._settle_pages(sec, seq)
            s["cust_pages"].append([int(sec), seq, (shown or "")[-4:], ref.key])

    def _settle_pages(self, sec: float, seq: int) -> None:
        """Decide every kept page against the cases known now: count those without one, forget the rest."""
        s = self._s
        bounds.hit(s, "pages", sec, seq)
        spans = self._case_spans()
        for page in s["cust_pages"]:
            if self._covered(spans, page[0]):
                if len(page) > 3 and not _add_key(s["cased"], page[3]):
                    bounds.hit(s, "customers", sec, seq)
                continue
            s["settled"]["nocase"] += 1
            outside.count(s, "nocase_min", int(page[0]) // 60)
            bounds.keep_top(s["nocase_ev"], page, _page_rank)  # with its key: a review, once judged?
            key = page[3] if len(page) > 3 else ""
            if key and (key in s["uncased"] or len(s["uncased"]) < MAX_CUSTOMERS):
                s["uncased"][key] = s["uncased"].get(key, 0) + 1
            else:
                s["unkeyed"] += 1
        s["cust_pages"] = []

    def customer_sets(self) -> CustomerSets:
        """The day's customers for the need-to-know judgement across agents (:mod:`detectors.need_to_know`)."""
        s = self._s
        spans = self._case_spans()
        cased = set(s["cased"])
        uncased = dict(s["uncased"])
        unkeyed = s["unkeyed"]
        for page in s["cust_pages"]:  # the same bounds as settled pages
            key = page[3] if len(page) > 3 else ""
            if self._covered(spans, page[0]):
                if key and len(cased) < MAX_CUSTOMERS:
                    cased.add(key)
            elif key and (key in uncased or len(uncased) < MAX_CUSTOMERS):
                uncased[key] = uncased.get(key, 0) + 1
            else:
                unkeyed += 1
        return CustomerSets(frozenset(cased), uncased, unkeyed)

    @classmethod
    def stored_customer_sets(cls, state: dict[str, Any]) -> CustomerSets:
        """:meth:`customer_sets` of a stored state without restoring the whole rollup (history days)."""
        if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
            raise InvalidInput(f"rollup state: expected a version {STATE_VERSION} state object")
        view = cls.__new__(cls)  # customer_sets reads only the state's pages, cases and two bitmaps
        try:
            view._s = {**_CUSTOMER_STATE, **state, "case_mask": int(state.get("case_mask") or "0", 16),
                       "present": int(state.get("present") or "0", 16)}
            return view.customer_sets()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"rollup state: malformed ({exc})") from exc

    def _on_copy(self, e: dict[str, Any], sec: float, seq: int) -> None:
        s = self._s
        s["copies"] += 1
        s["horizon"] = max(s["horizon"], int(sec))
        cls = e.get("classes") or {}
        ids, phones, cards = (int(cls.get(k, 0)) for k in ("id_number", "phone", "bank_card"))
        s["ids"] += ids
        s["phones"] += phones
        s["cards"] += cards
        source = _app_key(str(e.get("app", "")))
        if ids or phones or cards or source in self._sensitive:
            self._keep_copy([int(sec), seq, ids, phones, cards], sec)
            outside.count(s, "copy_min", int(sec // 60))
        if ids or cards:
            self._evidence("id_copy", sec, seq, ids=ids, phones=phones, cards=cards, app=_short(source, 40))

    def _idle_room(self, sec: float, seq: int) -> None:
        s = self._s
        if len(s["idle_starts"]) >= MAX_SPANS or len(s["idle_spans"]) >= MAX_SPANS:
            bounds.hit(s, "idle", sec, seq)
            bounds.settle_idle(s, self.n_min)

    def _on_idle(self, e: dict[str, Any], sec: float, seq: int) -> None:
        start = int(sec - float(e["threshold_s"]))
        self._idle_room(sec, seq)
        self._s["idle_starts"].append(start)

    def _on_active(self, e: dict[str, Any], sec: float, seq: int) -> None:
        span = [int(sec - float(e["idle_s"])), int(sec)]
        self._idle_room(sec, seq)
        self._s["idle_spans"].append(span)

    def _on_case_open(self, e: dict[str, Any], sec: float, seq: int) -> None:
        key = format(_hash(str(e["case_id"])), "x")
        opened = self._s["open_cases"]
        if key not in opened:
            if len(opened) < MAX_SPANS:
                opened[key] = [int(sec), seq]
            else:  # the earliest open cases already cover whatever a later one would
                bounds.hit(self._s, "open_cases", sec, seq)

    def _on_case_close(self, e: dict[str, Any], sec: float, seq: int) -> None:
        s = self._s
        wall = float(e["wall_s"])
        key = format(_hash(str(e["case_id"])), "x")
        s["handle_n"] += 1
        s["handle_sum"] += wall
        bounds.add_handle(s["handle_hist"], wall)
        if len(s["case_spans"]) >= MAX_SPANS:
            bounds.hit(s, "cases", sec, seq)
            bounds.settle_cases(s, self.n_min)
        s["case_spans"].append([int(sec - wall), int(sec)])
        s["closed"].append(key)

    def _on_file(self, e: dict[str, Any], sec: float, seq: int) -> None:
        if not e.get("removable") or e.get("op") == "deleted":
            return
        s = self._s
        s["removable_writes"] += 1
        size = int(e.get("size") or 0)
        s["removable_bytes"] += size
        outside.count(s, "export_min", int(sec // 60))
        path = str(e.get("dest_path") or e.get("path", ""))
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        self._evidence("usb_write", sec, seq, file=_short(name, 50), mb=round(size / 1e6, 1))

    def _on_mount(self, e: dict[str, Any], sec: float, seq: int) -> None:
        if e.get("removable"):
            self._s["drive_mounts"] += 1
            self._evidence("drive_mount", sec, seq, label=_short(str(e.get("label", "")), 40))

    def _on_process(self, e: dict[str, Any], sec: float, seq: int) -> None:
        category = str(e.get("category", "other"))
        name = _app_key(str(e.get("name", "")))
        if category in _CATEGORY_CODE and name not in self._s["proc_cat"]:
            if len(self._s["proc_cat"]) < MAX_APPS:
                self._s["proc_cat"][name] = category
            else:  # the policy's name lists still classify it
                bounds.hit(self._s, "process_names", sec, seq)
        if category in ("remote_access", "screen_capture"):
            self._s["proc_starts"][category] += 1
            self._evidence(category, sec, seq, name=_short(name, 40))

    def _on_screenshot(self, e: dict[str, Any], sec: float, seq: int) -> None:
        self._s["screenshots"] += 1
        self._evidence("screenshot", sec, seq, reason=_short(str(e.get("reason", "")), 40))

    # ------------------------------------------------------------------ derived views
    def _code(self, app_idx: int) -> int:
        if app_idx < 0:
            return _OFFLIST if app_idx == -1 else -2 - app_idx
        return self._classify(self._s["apps"][app_idx])

    def _app_name(self, app_idx: int) -> str:
        return self._s["apps"][app_idx] if app_idx >= 0 else "(one of many apps)"  # past 2 * MAX_APPS

    def _classify(self, name: str) -> int:
        if name in self._s["proc_cat"]:
            return _CATEGORY_CODE[self._s["proc_cat"][name]]
        for prefixes, code in self._prefixes:
            if name.startswith(prefixes):
                return code
        if name in self._static:
            return self._static[name]
        if name in self._browsers:
            return _BROWSER
        if not self._allowed or name in self._allowed:
            return _WORK
        return _OFFLIST

    def _last_present_sec(self) -> int:
        present = self._s["present"]
        return (present.bit_length() * 60) if present else 0

    def _idle_bits(self, present: int) -> int:
        s = self._s
        idle = s["idle_mask"] | bounds.span_idle_bits(s["idle_spans"], self.n_min)
        for a in bounds.open_starts(s["idle_starts"], s["idle_spans"]):  # not ended by an input.active
            idle |= bounds.open_idle_bits(a, present, self.n_min)
        return idle

    def _case_spans(self) -> list[tuple[int, int]]:
        s = self._s
        closed = set(s["closed"])
        spans = [(a, b) for a, b in s["case_spans"]]
        end = self._last_present_sec()
        spans += [(a, max(a + 1, end)) for key, (a, _) in s["open_cases"].items() if key not in closed]
        spans.sort()
        merged: list[tuple[int, int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def _covered(self, spans: list[tuple[int, int]], sec: int) -> bool:
        pos = bisect.bisect_right(spans, (sec, 1 << 62)) - 1
        return (pos >= 0 and spans[pos][0] <= sec <= spans[pos][1]) or bool((self._s["case_mask"] >> (sec // 60)) & 1)

    def _pages_without_case(self, spans: list[tuple[int, int]]) -> list[list[Any]]:
        return sorted(p[:3] for p in self._s["cust_pages"] if not self._covered(spans, p[0]))

    def _pair_moment(self, copy: list[Any], switch: list[Any], code: int) -> list[Any]:
        return [switch[0], switch[1], copy[2], copy[3], copy[4], self._app_name(switch[2]), switch[0] - copy[0],
                copy[1], code]

    def _offlist_copies(self) -> list[tuple[list[Any], list[Any], int]]:
        """Sensitive copies followed within the paste window by a switch to an off-list/messaging app."""
        window = self.ctx.policy.paste_window_s
        flagged = sorted((sw[0], sw[1], sw[2], self._code(sw[2])) for sw in self._s["switches"])
        flagged = [f for f in flagged if f[3] in (_OFFLIST, _MESSAGING)]
        times = [f[0] for f in flagged]
        out = []
        for copy in sorted(self._s["sens_copies"]):
            pos = bisect.bisect_right(times, copy[0])
            while pos < len(flagged) and flagged[pos][0] <= copy[0] + window:
                if flagged[pos][1] > copy[1]:
                    out.append((copy, list(flagged[pos][:3]), flagged[pos][3]))
                    break
                pos += 1
        return out

    def _gaps(self, now: datetime | None) -> list[presence.Gap]:
        """The shift's reportable silences and stops (see :mod:`detectors.presence`)."""
        return presence.gaps(presence.Presence(
            self._s["present"], self._shift, frozenset(self._s["stops"]), self.n_min, self._limit_min(now),
            presence.retired_minute(self.ctx.retired_at, self._t0)), self.ctx.policy)

    def _returns(self, now: datetime | None, gaps: list[presence.Gap]) -> dict[int, bool]:
        """Minutes at which the agent came back in the shift (see the ``returns_in_shift`` feature), each
        with whether it came back as a new process with no clean stop before it (a restart). The day's
        first report and, once the admin retired the agent, a reinstall do not count."""
        s = self._s
        present, stops = s["present"], s["stops"]
        end = self._limit_min(now)
        retired = presence.retired_minute(self.ctx.retired_at, self._t0)
        if retired is not None:
            end = min(end, retired)
        out = {g.end: False for g in gaps if g.stopped and g.end < end and (present >> g.end) & 1}
        for m in s["starts"]:
            before = present & ((1 << m) - 1)
            if m >= end or not before or not (self._shift >> m) & 1:
                continue
            heard = before.bit_length() - 1
            if bisect.bisect_left(stops, heard) == bisect.bisect_right(stops, m):
                out[m] = True
        return dict(sorted(out.items()))

    def _spool_dropped(self) -> int:
        """The rise of dropped_total over the day; after a counter reset (a new spool), its last value."""
        ends = self._s["dropped"]
        if not ends:
            return 0
        first, last = ends[0][1], ends[1][1]
        return last - first if last >= first else last

    def _focus_minutes(self, active: int) -> dict[int, int]:
        s = self._s
        minutes = dict.fromkeys(range(6), 0)
        offsite = 0
        focus, site = s["focus"], s["site"]
        code, site_code = _WORK, 0
        present = s["present"]
        for m in range(self.n_min):
            if m in focus:
                code = self._code(focus[m][1])
            if m in site:
                site_code = site[m][1]
            if not (present >> m) & 1:
                code, site_code = _WORK, 0
                continue
            if (active >> m) & 1:
                minutes[code] += 1
                if code == _BROWSER and site_code:
                    offsite += 1
        minutes[-1] = offsite
        return minutes

    @staticmethod
    def _vs(minute: int, reference: int) -> float:
        """Circular difference minute - reference in minutes, within [-720, 720)."""
        return float((minute - reference + 720) % 1440 - 720)

    def _limit_min(self, now: datetime | None) -> int:
        if now is None:
            return self.n_min
        return max(0, min(self.n_min, int((now.timestamp() - self._t0) // 60)))

    def features(self, now: datetime | None = None) -> dict[str, float]:
        """The day's numbers, one per :data:`FEATURES` entry (``now``: the day is not over yet)."""
        s = self._s
        present = s["present"]
        idle = self._idle_bits(present) & present
        active = present & ~idle
        n_active = active.bit_count()
        first = (active & -active).bit_length() - 1
        spans = self._case_spans()
        case_bits = s["case_mask"]
        for a, b in spans:
            case_bits |= _bits(max(0, a // 60), min(self.n_min, ceil_div(b, 60)))
        n = s["handle_n"]
        focus = self._focus_minutes(active)
        offlist = self._offlist_copies()
        gaps = self._gaps(now)
        stops = [g for g in gaps if g.stopped]
        settled = s["settled"]
        integ = s["integrity"]
        outside_min, night_min = outside.judged(active, self._graced, case_bits, self._night)
        day_pace = outside.pace(active, self._graced, case_bits)
        first_vs, last_vs = outside.edges(
            self._vs(first, self._shift_start) if active else 0.0,
            self._vs(active.bit_length(), self._shift_end) if active else 0.0,
            outside.explained_share(self._before, active, self._graced, case_bits, day_pace),
            outside.explained_share(self._after, active, self._graced, case_bits, day_pace))
        caseless = self._pages_without_case(spans)
        rhythm = presence.rhythm(present, idle, self.ctx.policy.silence_min_gap_min)
        return {
            "active_min": float(n_active),
            "idle_min": float(idle.bit_count()),
            "idle_share": idle.bit_count() / present.bit_count() if present else 0.0,
            "idle_periods": float(rhythm.idle_periods),
            "longest_active_min": float(rhythm.longest_active_min),
            "input_regularity": rhythm.regularity,
            "first_activity": first_vs,
            "last_activity": last_vs,
            "outside_shift_min": float(outside_min),
            "night_min": float(night_min),
            "outside_shift_lookups": outside.lookups(s, self._graced, caseless),
            "cases_closed": float(n),
            "handle_mean_s": s["handle_sum"] / n if n else 0.0,
            "handle_median_s": bounds.hist_median(s["handle_hist"]),
            "cases_per_hour": n / (n_active / 60) if n_active else 0.0,
            "utilisation": (active & case_bits).bit_count() / n_active if n_active else 0.0,
            "customers_viewed": float(len(s["customers"])),
            "customer_pages": float(s["customer_pages"]),
            "pages_without_case": float(settled["nocase"] + len(caseless)),
            "reviewed_customers": 0.0,  # known only across agents, at report time (detectors.need_to_know)
            "copies": float(s["copies"]),
            "copied_ids": float(s["ids"]),
            "copied_phones": float(s["phones"]),
            "copied_cards": float(s["cards"]),
            "copies_to_offlist": float(settled["offlist"] + len(offlist)),
            "ids_to_messaging": float(settled["ids_msg"] + sum(c[2] for c, _, code in offlist if code == _MESSAGING)),
            "removable_writes": float(s["removable_writes"]),
            "removable_mb": s["removable_bytes"] / 1e6,
            "drive_mounts": float(s["drive_mounts"]),
            "remote_access_starts": float(s["proc_starts"]["remote_access"]),
            "remote_access_min": float(focus[_REMOTE]),
            "screen_capture_starts": float(s["proc_starts"]["screen_capture"]),
            "screen_capture_min": float(focus[_CAPTURE]),
            "messaging_min": float(focus[_MESSAGING]),
            "offlist_app_min": float(focus[_OFFLIST]),
            "offlist_site_min": float(focus[-1]),
            "silent_shift_min": float(sum(g.minutes for g in gaps if not g.stopped)),
            "seq_missing": float(integ["seq_gap"]),
            "chain_breaks": float(integ["chain_break"]),
            "batch_gaps": float(integ["batch_gap"]),
            "screenshots": float(s["screenshots"]),
            "focus_switches": float(s["focus_switches"]),
            "pages": float(s["pages"]),
            "stops_in_shift": float(len(stops)),
            "stopped_shift_min": float(sum(g.minutes for g in stops)),
            "returns_in_shift": float(len(self._returns(now, gaps))),
            "spool_dropped": float(self._spool_dropped()),
            "rollup_bound_hits": float(len(s["bounds"])),
            "unsigned_answers": float(integ.get("unsigned_answers", 0)),
            "policy_mismatches": float(integ.get("policy_mismatch", 0)),
        }

    def strip(self) -> str:
        """The day's activity at :data:`SLOT_MIN` resolution: ``a`` active, ``i`` idle, ``-`` absent."""
        present = self._s["present"]
        idle = self._idle_bits(present) & present
        active = present & ~idle
        out = []
        for start in range(0, self.n_min, SLOT_MIN):
            mask = _bits(start, min(start + SLOT_MIN, self.n_min))
            n_act, n_idle = (active & mask).bit_count(), (idle & mask).bit_count()
            out.append("-" if n_act + n_idle == 0 else ("a" if n_act >= n_idle else "i"))
        return "".join(out)

    # ------------------------------------------------------------------ evidence
    def _ts(self, sec: float) -> str:
        moment = datetime.fromtimestamp(self._t0 + sec, self._zone)
        return moment.isoformat(timespec="seconds")

    def _slot_seq_before(self, minute: int) -> int:
        slots = self._s["slot_seq"]
        for slot in range(minute // SLOT_MIN, -1, -1):
            if slot in slots:
                return int(slots[slot])
        return 0

    def _outside_edges(self) -> list[list[Any]]:
        """First and last user activity outside the shift: as seen at ingest while that still holds
        for the day's shift, else (a shift entered after the events) the minutes of the activity bitmap."""
        kept = [m for m in self._s["outside"] if not (self._shift >> int(m[0] // 60)) & 1]
        if len(kept) == 2 or not self._s["outside"]:
            return kept
        out = self._s["present"] & ~self._shift
        if not out:
            return []
        first, last = (out & -out).bit_length() - 1, out.bit_length() - 1
        return [[first * 60, self._slot_seq_before(first)], [last * 60, self._slot_seq_before(last)]]

    def evidence(self, now: datetime | None = None, reviewed: Collection[str] = frozenset()) -> list[dict[str, Any]]:
        """Notable moments of the day, oldest first, bounded: ``{ts, kind, seq, what, what_zh}``.
        ``reviewed``: customer keys judged reviews of a colleague's case (their pages are shown as such)."""
        s = self._s
        raw: list[tuple[str, float, int, dict[str, Any]]] = [
            (k, sec, seq, p) for k, sec, seq, p in s["evidence"]]
        spans = self._case_spans()
        live = [p for p in s["cust_pages"] if not self._covered(spans, p[0])]
        pages = sorted([*s["nocase_ev"], *live], key=_page_rank)
        reviews = [p for p in pages if len(p) > 3 and p[3] in reviewed]
        for kind, chosen in (("page_without_case", [p for p in pages if not (len(p) > 3 and p[3] in reviewed)]),
                             ("reviewed_customer", reviews)):
            for p in chosen[:MAX_EVIDENCE_PER_KIND]:
                raw.append((kind, p[0], p[1], {"customer": p[2]}))
        pairs = [*s["pair_ev"], *(self._pair_moment(c, sw, code) for c, sw, code in self._offlist_copies())]
        for sec, seq, ids, phones, cards, app, after, copy_seq, _code in \
                sorted(pairs, key=_pair_rank)[:MAX_EVIDENCE_PER_KIND]:
            raw.append(("copy_to_offlist", sec, seq, {"ids": ids, "phones": phones, "cards": cards, "app": app,
                                                      "after_s": after, "copy_seq": copy_seq}))
        gaps = self._gaps(now)
        for g in gaps[:MAX_EVIDENCE_PER_KIND]:
            raw.append(("stop" if g.stopped else "silence", g.start * 60, self._slot_seq_before(max(g.start - 1, 0)),
                        {"minutes": g.minutes, "until": f"{g.end // 60:02d}:{g.end % 60:02d}",
                         "at": _clock(g.stop_minute)}))
        for m, restart in list(self._returns(now, gaps).items())[:MAX_EVIDENCE_PER_KIND]:
            raw.append(("return", m * 60, self._slot_seq_before(m), {"at": _clock(m), "restart": restart}))
        if self._spool_dropped():
            _, seq, sec = s["dropped"][1]
            raw.append(("spool_drop", sec, seq, {"dropped": self._spool_dropped()}))
        raw += bounds.moments(s)
        edges = self._outside_edges()
        if edges:
            (a, aseq), (b, bseq) = edges
            raw.append(("outside_shift", a, aseq, {"edge": "first"}))
            if bseq != aseq:
                raw.append(("outside_shift", b, bseq, {"edge": "last"}))
        raw.sort(key=lambda r: (r[1], r[2]))
        out = []
        for kind, sec, seq, params in raw:
            en, zh = describe_moment(kind, params)
            out.append({"ts": self._ts(sec), "kind": kind, "seq": int(seq), "what": en, "what_zh": zh})
        return out


def _pair_rank(p: list[Any]) -> tuple[Any, ...]:
    """Copies carried off worth showing first: into messaging, with the most numbers, earliest."""
    return (p[8] != _MESSAGING, -(p[2] + p[4]), -p[3], p[0], p[1])


def _page_rank(p: list[Any]) -> tuple[Any, ...]:
    return (p[0], p[1])


def describe_moment(kind: str, p: dict[str, Any]) -> tuple[str, str]:
    """English and Chinese text for one evidence moment."""
    if kind == "id_copy":
        what = [f"{n} {label}{'s' if n != 1 else ''}" for n, label in
                ((p["ids"], "ID number"), (p["cards"], "bank card number")) if n]
        return (f"copied {' and '.join(what)} in {p['app']}",
                f"在 {p['app']} 中复制了 {p['ids']} 个身份证号、{p['cards']} 个银行卡号")
    if kind == "copy_to_offlist":
        n = p["ids"] + p["phones"] + p["cards"]
        if not n:
            return (f"switched to {p['app']} {p['after_s']} s after a copy in a customer-data app",
                    f"在客户数据应用中复制后 {p['after_s']} 秒切换到 {p['app']}")
        return (f"switched to {p['app']} {p['after_s']} s after copying {n} customer number{'s' if n != 1 else ''}",
                f"复制 {n} 个客户号码后 {p['after_s']} 秒切换到 {p['app']}")
    if kind == "usb_write":
        return (f"wrote {p['file']} ({p['mb']} MB) to a removable drive",
                f"向移动存储写入 {p['file']}（{p['mb']} MB）")
    if kind == "drive_mount":
        return f"removable drive '{p['label']}' mounted", f"插入移动存储“{p['label']}”"
    if kind == "remote_access":
        return f"remote access tool {p['name']} started", f"启动远程控制软件 {p['name']}"
    if kind == "screen_capture":
        return f"screen capture tool {p['name']} started", f"启动截屏/录屏软件 {p['name']}"
    if kind == "screenshot":
        return f"policy screenshot ({p['reason']})", f"策略截屏（{p['reason']}）"
    if kind == "reviewed_customer":
        return (f"opened customer …{p['customer']}, whom a colleague had a case for, with no case of their own",
                f"查看同事办理过案件的客户 …{p['customer']}（自己未办理案件）")
    if kind == "page_without_case":
        return (f"opened customer …{p['customer']} with no case open",
                f"未打开案件时查看客户 …{p['customer']}")
    if kind == "offlist_site":
        return f"visited {p['host']} (not on the allow-list)", f"访问白名单以外的网站 {p['host']}"
    if kind == "silence":
        return (f"no events for {p['minutes']} min during the shift (until {p['until']})",
                f"排班时间内 {p['minutes']} 分钟无任何事件（至 {p['until']}）")
    if kind == "stop":
        return (f"agent stopped at {p['at']} and stayed off {p['minutes']} min during the shift (until {p['until']})",
                f"客户端于 {p['at']} 停止，排班时间内停止 {p['minutes']} 分钟（至 {p['until']}）")
    if kind == "return":
        if p["restart"]:
            return (f"agent started again at {p['at']} with no clean stop before it",
                    f"客户端于 {p['at']} 重新启动，此前没有正常停止")
        return f"agent back at {p['at']}, while the shift went on", f"客户端于 {p['at']} 恢复上报，班次仍在进行"
    if kind == "spool_drop":
        return (f"the agent's spool dropped {p['dropped']} events today",
                f"客户端本地缓存今天丢弃了 {p['dropped']} 个事件")
    if kind == "rollup_bound":
        en, zh = bounds.BOUND_NAMES.get(p["bound"], (p["bound"], p["bound"]))
        return (f"so many {en} that the day's rollup reached its bound ({p['hits']}×); all still counted",
                f"{zh}数量触及当天汇总上限（{p['hits']} 次），仍全部计入")
    if kind == "outside_shift":
        edge = "first" if p["edge"] == "first" else "last"
        zh = "排班外的首次活动" if edge == "first" else "排班外的最后活动"
        return f"{edge} activity outside the shift", zh
    return kind, kind


_STATE_KEYS = tuple(DayRollup._empty("x", date(2000, 1, 1)))
_HANDLERS = {
    "agent.start": DayRollup._on_start,
    "agent.stop": DayRollup._on_stop,
    "agent.heartbeat": DayRollup._on_heartbeat,
    "app.focus": DayRollup._on_focus,
    "page.open": DayRollup._on_page,
    "clipboard.copy": DayRollup._on_copy,
    "input.idle": DayRollup._on_idle,
    "input.active": DayRollup._on_active,
    "case.open": DayRollup._on_case_open,
    "case.close": DayRollup._on_case_close,
    "file.write": DayRollup._on_file,
    "device.mount": DayRollup._on_mount,
    "process.start": DayRollup._on_process,
    "screenshot": DayRollup._on_screenshot,
}
