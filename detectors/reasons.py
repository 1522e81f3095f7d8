"""Reasons a person can read: the number, the peers' median and the agent's own past, in English
and Chinese ("copied 14 ID numbers; team median 0; own 30-day maximum 1").

A finding's reasons are the features of the rules it broke (most severe first), then the features
that deviate most from the peer group or from the agent's own history, as long as the deviation is at
least ``min_z`` robust standard deviations; at most ``max_reasons`` in all. Deviations count in the
feature's meaningful direction, low as well as high ("0 idle periods; team median 6; own 20-day
minimum 4"). A reason only the agent's own history shows (within the peers' range) also names the
own median ("opened 9 customer pages with no case open; team median 6; own 20-day median 3, maximum 4"),
and a rule whose threshold the agent's own normal moved says so ("rule threshold 200, raised to own
normal (default 10)").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from detectors.features import FEATURE_BY_NAME, FEATURE_NAMES
from detectors.rules import RuleHit

PHRASES: dict[str, tuple[str, str]] = {
    "active_min": ("active for {v}", "活动 {v}"),
    "idle_min": ("idle for {v}", "空闲 {v}"),
    "idle_share": ("idle {v} of the time reported", "空闲时间占上报时间的 {v}"),
    "idle_periods": ("{v} idle period{s}", "空闲时段 {v} 个"),
    "longest_active_min": ("active {v} in one run without an idle period", "连续活动 {v} 无任何空闲"),
    "input_regularity": ("idle periods {v} regular (100% = on a timer)", "空闲时段规律度 {v}（100% 为定时）"),
    "first_activity": ("first active {v} from the shift start", "首次活动距排班开始 {v}"),
    "last_activity": ("last active {v} from the shift end", "最后活动距排班结束 {v}"),
    "outside_shift_min": ("active {v} outside the shift, not explained by casework",
                          "排班外活动 {v}（超出办案可解释的部分）"),
    "night_min": ("active {v} at night outside the shift, not explained by casework",
                  "排班外夜间活动 {v}（超出办案可解释的部分）"),
    "outside_shift_lookups": ("handled customer data {v} time{s} outside the shift with no case (look-ups "
                              "without a case, copies, removable writes)",
                              "排班外无案件处理客户数据 {v} 次（无案件查看、复制、写入移动存储）"),
    "cases_closed": ("closed {v} case{s}", "结案 {v} 件"),
    "handle_mean_s": ("mean handling time {v}", "平均处理时长 {v}"),
    "handle_median_s": ("median handling time {v}", "处理时长中位数 {v}"),
    "cases_per_hour": ("{v} cases per active hour", "每活动小时结案 {v} 件"),
    "utilisation": ("a case was open for {v} of active time", "有案件打开的时间占活动时间的 {v}"),
    "customers_viewed": ("viewed {v} distinct customer{s}", "查看了 {v} 位不同客户"),
    "customer_pages": ("opened {v} customer page{s}", "打开客户页面 {v} 次"),
    "pages_without_case": ("opened {v} customer page{s} with no case open", "无案件时打开客户页面 {v} 次"),
    "reviewed_customers": ("opened {v} customer{s} a colleague had a case for, with no case of their own",
                           "查看同事办理过案件的客户 {v} 位（自己未办理案件）"),
    "copies": ("made {v} cop{ies}", "复制 {v} 次"),
    "copied_ids": ("copied {v} ID number{s}", "复制身份证号 {v} 个"),
    "copied_phones": ("copied {v} phone number{s}", "复制手机号 {v} 个"),
    "copied_cards": ("copied {v} bank card number{s}", "复制银行卡号 {v} 个"),
    "copies_to_offlist": ("{v} cop{ies} of customer data {were} followed by a non-allowed app",
                          "{v} 次复制客户数据后切换到非白名单应用"),
    "ids_to_messaging": ("{v} copied ID number{s} {were} followed by a messaging app",
                         "{v} 个身份证号复制后切换到聊天软件"),
    "removable_writes": ("wrote {v} file{s} to removable drives", "向移动存储写入 {v} 个文件"),
    "removable_mb": ("wrote {v} to removable drives", "向移动存储写入 {v}"),
    "drive_mounts": ("plugged in {v} removable drive{s}", "插入移动存储 {v} 次"),
    "remote_access_starts": ("started a remote access tool {v} time{s}", "启动远程控制软件 {v} 次"),
    "remote_access_min": ("spent {v} in a remote access tool", "在远程控制软件中 {v}"),
    "screen_capture_starts": ("started a screen capture tool {v} time{s}", "启动截屏或录屏软件 {v} 次"),
    "screen_capture_min": ("spent {v} in a screen capture tool", "在截屏或录屏软件中 {v}"),
    "messaging_min": ("spent {v} in messaging apps", "使用聊天软件 {v}"),
    "offlist_app_min": ("spent {v} in apps outside the allow-list", "使用白名单以外应用 {v}"),
    "offlist_site_min": ("spent {v} on sites outside the allow-list", "浏览白名单以外网站 {v}"),
    "silent_shift_min": ("the agent was silent for {v} during the shift", "排班时间内客户端 {v} 无上报"),
    "seq_missing": ("{v} event{s} missing from the sequence", "缺失事件 {v} 个"),
    "chain_breaks": ("the batch chain broke {v} time{s}", "批次哈希链断裂 {v} 次"),
    "batch_gaps": ("{v} upload batch{es} missing", "缺失上传批次 {v} 个"),
    "screenshots": ("{v} policy screenshot{s}", "策略截屏 {v} 次"),
    "focus_switches": ("switched windows {v} time{s}", "切换窗口 {v} 次"),
    "pages": ("opened {v} web page{s}", "打开网页 {v} 次"),
    "stops_in_shift": ("the agent was stopped {v} time{s} during the shift", "排班时间内客户端被停止 {v} 次"),
    "returns_in_shift": ("the agent came back {v} time{s} while the shift went on",
                         "客户端在班次进行中中断后恢复 {v} 次"),
    "spool_dropped": ("the agent's spool dropped {v} event{s}", "客户端本地缓存丢弃事件 {v} 个"),
    "stopped_shift_min": ("the agent was stopped for {v} during the shift", "排班时间内客户端停止 {v}"),
    "rollup_bound_hits": ("the day reached {v} rollup bound{s}", "当天触及 {v} 个汇总上限"),
    "unsigned_answers": ("the agent refused {v} answer{s} not signed by the collector",
                         "客户端拒绝 {v} 个非采集端签名的应答"),
    "policy_mismatches": ("the agent ran a policy the collector did not issue, or an old one, in {v} "
                          "batch{es}", "客户端在 {v} 个批次中运行非采集端下发或过期的策略"),
}
SCOPE_TEXT = {
    ("team", "agent"): ("team median", "团队中位数"),
    ("team", "lead"): ("team leads' median", "同组组长中位数"),
    ("role", "agent"): ("all agents' median", "全体坐席中位数"),
    ("role", "lead"): ("all team leads' median", "全体组长中位数"),
    ("all", "agent"): ("everyone's median", "全员中位数"),
    ("all", "lead"): ("everyone's median", "全员中位数"),
}


def fmt(feature: str, value: float, lang: str = "en") -> str:
    """A feature value in the feature's unit, as a person would write it."""
    if value is None or not math.isfinite(value):
        return "–"
    unit = FEATURE_BY_NAME[feature].unit
    zh = lang == "zh"
    if unit == "min":
        return f"{value:.0f} 分钟" if zh else f"{value:.0f} min"
    if unit == "s":
        return f"{value / 60:.1f} 分钟" if zh else f"{value / 60:.1f} min"
    if unit == "min vs shift":
        return f"{value:+.0f} 分钟" if zh else f"{value:+.0f} min"
    if unit == "ratio":
        return f"{100 * value:.0f}%"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "per active h":
        return f"{value:.1f}"
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def english(template: str, feature: str, value: float) -> str:
    """Fill an English phrase, with singular or plural words for the value."""
    one = fmt(feature, value) == "1"
    return template.format(v=fmt(feature, value), s="" if one else "s", es="" if one else "es",
                           ies="y" if one else "ies", were="was" if one else "were")


@dataclass
class Reason:
    feature: str
    value: float
    peer_median: float
    scope: str
    own_ref: float | None
    own_ref_kind: str          # "maximum", "minimum" or "median"
    own_days: int
    peer_z: float
    self_z: float
    rule: str | None
    severity: str | None
    text: str
    text_zh: str
    rule_threshold: float | None = None  # the threshold the value reached (the agent's own if raised)
    own_median: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("value", "peer_median", "own_ref", "peer_z", "self_z", "rule_threshold", "own_median"):
            if out[key] is not None:
                out[key] = round(float(out[key]), 3)
        return out


def _own(feature: str, value: float, own: dict[str, float]) -> tuple[float | None, str]:
    direction = FEATURE_BY_NAME[feature].direction
    if not own or not math.isfinite(own.get("median", math.nan)):
        return None, "maximum"
    if direction == "down" or (direction == "both" and value < own["median"]):
        return own["low"], "minimum"
    return own["high"], "maximum"


def _text(feature: str, value: float, median: float, scope: str, role: str, own_ref: float | None,
          kind: str, days: int, hit: RuleHit | None, own_median: float | None = None) -> tuple[str, str]:
    en, zh = PHRASES[feature]
    scope_en, scope_zh = SCOPE_TEXT[(scope, role if role in ("agent", "lead") else "agent")]
    parts_en = [english(en, feature, value), f"{scope_en} {fmt(feature, median)}"]
    parts_zh = [zh.format(v=fmt(feature, value, "zh")), f"{scope_zh} {fmt(feature, median, 'zh')}"]
    if own_ref is None:
        parts_en.append("no own history yet")
        parts_zh.append("暂无个人历史")
    else:
        kind_zh = {"maximum": "最高", "minimum": "最低", "median": "中位数"}[kind]
        if own_median is not None:
            parts_en.append(f"own {days}-day median {fmt(feature, own_median)}, {kind} {fmt(feature, own_ref)}")
            parts_zh.append(f"本人{days}天中位数 {fmt(feature, own_median, 'zh')}、{kind_zh} "
                            f"{fmt(feature, own_ref, 'zh')}")
        else:
            parts_en.append(f"own {days}-day {kind} {fmt(feature, own_ref)}")
            parts_zh.append(f"本人{days}天{kind_zh} {fmt(feature, own_ref, 'zh')}")
    if hit is not None:
        parts_en.append(f"rule threshold {fmt(feature, hit.limit)}")
        parts_zh.append(f"规则阈值 {fmt(feature, hit.limit, 'zh')}")
        if hit.threshold is not None:
            up = hit.threshold > hit.rule.threshold
            default = fmt(feature, hit.rule.threshold)
            parts_en[-1] += f", {'raised' if up else 'lowered'} to own normal (default {default})"
            parts_zh[-1] += f"（按本人常态{'上调' if up else '下调'}，默认 {fmt(feature, hit.rule.threshold, 'zh')}）"
    return "; ".join(parts_en), "；".join(parts_zh)


def explain(features: dict[str, float], role: str, peer_median: dict[str, float], scope: str,
            own: dict[str, dict[str, float]], own_days: int, peer_z: dict[str, float],
            self_z: dict[str, float], hits: list[RuleHit], max_reasons: int = 3,
            min_z: float = 3.0) -> list[Reason]:
    """Reasons for one agent-day. ``own`` maps a feature to its own-history {median, low, high}."""
    chosen: list[tuple[str, RuleHit | None]] = []
    for rule_hit in hits:
        if rule_hit.rule.feature not in (c[0] for c in chosen):
            chosen.append((rule_hit.rule.feature, rule_hit))
    deviation = {n: max(abs(peer_z.get(n, 0.0)), abs(self_z.get(n, 0.0))) for n in FEATURE_NAMES}
    ranked = sorted(deviation, key=lambda n: -deviation[n])
    for name in ranked:
        if len(chosen) >= max_reasons:
            break
        if deviation[name] >= min_z and name not in (c[0] for c in chosen):
            chosen.append((name, None))
    if not chosen and ranked and deviation[ranked[0]] > 0:
        chosen.append((ranked[0], None))
    reasons = []
    for name, hit in chosen[:max(max_reasons, len(hits))]:
        value = float(features.get(name, 0.0))
        ref, kind = _own(name, value, own.get(name, {}))
        by_self = abs(self_z.get(name, 0.0)) >= min_z > abs(peer_z.get(name, 0.0))  # the peers hide it
        own_median = own.get(name, {}).get("median") if by_self and ref is not None else None
        en, zh = _text(name, value, peer_median.get(name, 0.0), scope, role, ref, kind, own_days, hit, own_median)
        reasons.append(Reason(name, value, peer_median.get(name, 0.0), scope, ref, kind, own_days,
                              peer_z.get(name, 0.0), self_z.get(name, 0.0), hit.rule.name if hit else None,
                              hit.rule.severity if hit else None, en, zh, hit.limit if hit else None,
                              own_median))
    return reasons
