"""How the rollups put things into words: evidence moments in English and Chinese, clock times, short names.

:func:`describe_moment` turns one moment of :meth:`detectors.rollup.DayRollup.evidence` (its kind and
parameters) into the sentence a reviewer reads; :func:`short` bounds a name kept in a moment's parameters.
"""

from __future__ import annotations

from typing import Any

from detectors import bounds


def clock(minute: int) -> str:
    """A minute of the day as HH:MM (wrapping past midnight)."""
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def short(text: str, limit: int = 60) -> str:
    """The text, cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
