"""The feature catalog: every per agent-day number the detectors use, with its unit, direction and help.

:meth:`detectors.rollup.DayRollup.features` gives one value per :data:`FEATURES` entry, in that order
(:data:`FEATURE_NAMES`); :func:`features_markdown` documents them (README).
"""

from __future__ import annotations

from dataclasses import dataclass


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
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def features_markdown() -> str:
    """The feature table as Markdown (for the README), generated from :data:`FEATURES`."""
    lines = ["| feature | unit | look at | meaning | 含义 |", "|---|---|---|---|---|"]
    look = {"up": "higher", "down": "lower", "both": "either way"}
    for f in FEATURES:
        lines.append(f"| `{f.name}` | {f.unit} | {look[f.direction]} | {f.help_en} | {f.help_zh} |")
    return "\n".join(lines)
