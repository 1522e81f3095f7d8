"""Everything around the cases: the start and end of the day, chat, mail, trackers, exports,
meetings, a lead's tasks. Each activity takes the :class:`WorkDay` and a start time and returns when
it ended."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.apps import (
    EXCEL,
    NOTEPAD,
    OUTLOOK,
    PERSONAL_SITES,
    WECHAT,
    WEMEET,
    case_page,
    crm_page,
    customer_page,
)
from simulator.casework import casework, kb_page, phone_title, sec
from simulator.clock import SECOND
from simulator.identifiers import Customer, case_id

if TYPE_CHECKING:
    from simulator.workday import WorkDay


def workbench(day: WorkDay) -> tuple[str, str]:
    if day.member.team.kind == "col":
        return crm_page(f"/worklist?bucket={day.bucket}", "我的催收任务", day.system)
    return crm_page("/workbench", "工作台", day.system)


def inbox(day: WorkDay) -> str:
    return f"收件箱 - {day.member.user}@lender.example"


# ---------------------------------------------------------------- start and end of the day


def morning(day: WorkDay, t: int) -> int:
    r, desk = day.rng, day.desk
    t += sec(r, 25, 110)
    t = desk.launch(t, day.messenger)
    if day.member.traits.personal_wechat:
        t = desk.launch(t + sec(r, 2, 20), WECHAT)
    t = desk.focus(t + sec(r, 5, 40), day.messenger, day.im_home)
    t = desk.page(t + sec(r, 10, 90), day.browser, *crm_page("/login", "登录", day.system))
    t = desk.page(t + sec(r, 8, 25), day.browser, *workbench(day))
    t = desk.focus(t + sec(r, 5, 30), day.softphone, phone_title(day, "就绪"))
    t = desk.focus(t + sec(r, 5, 40), OUTLOOK, inbox(day))
    return t + sec(r, 30, 200)


def evening(day: WorkDay, t: int) -> int:
    r = day.rng
    if r.random() < 0.6:
        t = tracker(day, t)
    t = day.desk.focus(t + sec(r, 5, 30), OUTLOOK, inbox(day))
    if r.random() < 0.5:
        t = day.desk.focus(t + sec(r, 20, 90), day.messenger, day.im_home)
    return t + sec(r, 20, 180)


def tracker(day: WorkDay, t: int) -> int:
    r = day.rng
    name = f"工作量登记_{day.plan.day.month}月.xlsx"
    t = day.desk.focus(t, EXCEL, name)
    t += sec(r, 20, 90)
    size = 18_000 + day.plan.day.day * 1_300 + r.randrange(4_000)
    day.desk.file(t, f"{day.docs}\\{name}", "modified", size)
    return t + sec(r, 1, 8)


def export_own_cases(day: WorkDay, t: int, _end: int) -> int:
    """A normal export: the agent's (or the lead's team's) own list, small, into Documents."""
    r, desk = day.rng, day.desk
    stamp = day.plan.day.strftime("%Y%m%d")
    lead = day.member.role == "lead"
    t = desk.page(
        t,
        day.browser,
        *crm_page("/reports/export?type=" + ("team" if lead else "my_cases"), "导出", day.system),
    )
    name = f"团队日报_{stamp}.xlsx" if lead else f"我的案件_{stamp}.xlsx"
    t += sec(r, 8, 40)
    desk.file(t, f"{day.docs}\\{name}", "created", r.randint(20_000, 380_000))
    t = desk.focus(t + sec(r, 2, 10), EXCEL, name)
    return t + sec(r, 40, 200)


def chat(day: WorkDay, t: int) -> int:
    r = day.rng
    for _ in range(r.choice((1, 1, 2, 3))):
        t = day.desk.focus(t, day.messenger, day.im_chat())
        t += sec(r, 10, 80)
    return t


def filler(day: WorkDay, t: int, limit: int) -> int:
    """One small non-case activity."""
    r, desk, traits = day.rng, day.desk, day.member.traits
    quiet = 2.5 if day.member.team.kind == "cs" else 0.4
    kb = 1.0 * day.slowness**2
    weights = (
        3.0,
        1.5,
        0.8,
        kb,
        traits.personal_browsing,
        1.0 if traits.personal_wechat else 0.0,
        quiet,
        0.4,
        0.5,
    )
    action = r.choices(_FILLERS, weights)[0]
    if action == "chat":
        return chat(day, t)
    if action == "email":
        t = desk.focus(t, OUTLOOK, inbox(day))
        return t + sec(r, 20, 180)
    if action == "tracker":
        return tracker(day, t)
    if action == "kb":
        t = desk.page(t, day.browser, *kb_page(r))
        return t + sec(r, 40, 240)
    if action == "personal":
        t = desk.page(t, day.browser, *r.choice(PERSONAL_SITES))
        return t + sec(r, 30, 360)
    if action == "wechat":
        t = desk.focus(t, WECHAT, "微信")
        return t + sec(r, 15, 200)
    if action == "quiet":
        t = desk.page(t, day.browser, *workbench(day))
        wait = int(r.expovariate(1.0 / 100.0) * SECOND)
        if r.random() < traits.idle_prone:
            wait += sec(r, 300, 700)
        wait = max(5 * SECOND, min(wait, limit - t))
        if wait > 300 * SECOND:
            return day.idle(t, wait)
        return t + wait
    if action == "notes":
        t = desk.focus(t, NOTEPAD, "工作笔记.txt")
        t += sec(r, 20, 120)
        desk.file(t, f"{day.docs}\\工作笔记.txt", "modified", r.randint(2_000, 40_000))
        return t + sec(r, 1, 5)
    customer = Customer.make(r)
    t = desk.page(t, day.browser, *customer_page(customer, None, day.system))
    return t + sec(r, 15, 70)


_FILLERS = ("chat", "email", "tracker", "kb", "personal", "wechat", "quiet", "notes", "lookup")


def lead_task(day: WorkDay, t: int) -> int:
    """A team lead's day: dashboards, call quality reviews, chat, mail, reports, a few cases."""
    r, desk, team = day.rng, day.desk, day.member.team
    action = r.choices(_LEAD, (2.0, 1.5, 3.0, 1.5, 0.8, 0.9, 0.5, 0.6))[0]
    if action == "dashboard":
        t = desk.page(t, day.browser, *crm_page(f"/team/{team.name}/dashboard", "团队看板", day.system))
        return t + sec(r, 40, 240)
    if action == "qa":
        call = r.randrange(4_000_000, 4_999_999)
        t = desk.page(t, day.browser, *crm_page(f"/qa/calls/{call}", f"质检 - 通话 {call}", day.system))
        return t + sec(r, 90, 420)
    if action == "chat":
        return chat(day, chat(day, t))
    if action == "email":
        t = desk.focus(t, OUTLOOK, inbox(day))
        t = desk.focus(t + sec(r, 10, 60), OUTLOOK, r.choice(_MAIL_SUBJECTS) + " - 邮件 (HTML)")
        return t + sec(r, 30, 240)
    if action == "excel":
        name = f"团队排班_{day.plan.day.month}月.xlsx"
        t = desk.focus(t, EXCEL, name)
        t += sec(r, 60, 300)
        desk.file(t, f"{day.docs}\\{name}", "modified", r.randint(30_000, 120_000))
        return t
    if action == "review":
        customer = Customer.make(r)
        case = case_id(r, day.plan.day.year)
        url, title = case_page(case)
        t = desk.page(t, day.browser, url, title)
        day.open_case(t + sec(r, 0.2, 1), case, title)
        t = desk.page(t + sec(r, 20, 90), day.browser, *customer_page(customer, case, day.system))
        t += sec(r, 30, 180)
        day.close_case(t)
        return t + sec(r, 5, 30)
    if action == "escalation":
        return casework(day, t)
    t = desk.focus(t, WEMEET, "腾讯会议")
    return t + sec(r, 120, 600)


_LEAD = ("dashboard", "qa", "chat", "email", "excel", "review", "escalation", "meeting")
_MAIL_SUBJECTS = (
    "本周质检结果",
    "排班调整通知",
    "RE: 投诉工单跟进",
    "月度考核指标",
    "系统维护通知",
    "FW: 合规培训安排",
)


def meeting(day: WorkDay, t: int, length: int) -> int:
    """An online meeting; people often listen without touching the keyboard."""
    r = day.rng
    end = t + length
    t = day.desk.focus(t, WEMEET, r.choice(("腾讯会议", "腾讯会议 - 晨会", "腾讯会议 - 周例会")))
    if length > 330 * SECOND and r.random() < 0.6:
        t = day.idle(t + sec(r, 5, 20), sec(r, 305, length / SECOND - 20))
    return max(t, end)


def desk_meal(day: WorkDay, t: int, length: int) -> int:
    """Lunch at the desk: news, shopping and chat instead of time away, so input never goes idle."""
    r, desk = day.rng, day.desk
    end = t + length
    while t < end - 2 * 60 * SECOND:
        if r.random() < 0.3 and day.member.traits.personal_wechat:
            t = desk.focus(t, WECHAT, "微信")
        elif r.random() < 0.3:
            t = desk.focus(t, day.messenger, day.im_chat())
        else:
            t = desk.page(t, day.browser, *r.choice(PERSONAL_SITES))
        t += sec(r, 60, 280)
    return max(t, end)


def jiggle(day: WorkDay, t: int, limit: int) -> int:
    """A mouse jiggler keeps input alive while nobody works: long stretches, one window in front."""
    r, desk = day.rng, day.desk
    what = r.random()
    if what < 0.5:
        t = desk.page(t, day.browser, *workbench(day))
    elif what < 0.8:
        t = desk.focus(t, day.messenger, day.im_home)
    else:
        t = desk.page(t, day.browser, *r.choice(PERSONAL_SITES))
    return max(t + SECOND, min(limit, t + sec(r, 15 * 60, 70 * 60)))


def review_teammates(day: WorkDay, t: int, _end: int, count: int) -> int:
    """A lead reviews ``count`` customers that teammates handled today, from the lead's own screen and
    with no case of their own open (quality checks, complaints, coaching)."""
    r, desk = day.rng, day.desk
    pages = day.teammates or [customer_page(Customer.make(r), None, day.system)]
    for _ in range(count):
        url, title = r.choice(pages)
        t = desk.page(t, day.browser, url.split("?", 1)[0], title)
        t += sec(r, 20, 110)
        if r.random() < 0.3:
            t = desk.focus(t, day.messenger, day.im_chat())
            t += sec(r, 10, 60)
    return t


def training(day: WorkDay, t: int, length: int) -> int:
    """A course or a long meeting: slides and videos, long spells without input, a quiz now and then."""
    r, desk = day.rng, day.desk
    end = t + length
    course = r.choice(("合规培训", "新系统上线培训", "投诉处理技巧", "信息安全意识"))
    while t < end - 2 * 60 * SECOND:
        if r.random() < 0.5:
            t = desk.focus(t, WEMEET, f"腾讯会议 - {course}")
        else:
            t = desk.page(t, day.browser, *crm_page(f"/training/{r.randint(1, 40)}", course, day.system))
        if r.random() < 0.45:
            t = day.idle(t + sec(r, 5, 30), min(sec(r, 305, 1500), max(SECOND, end - t)))
        else:
            t += sec(r, 40, 280)
    return max(t, end)


def network_drop(day: WorkDay, t: int, length: int) -> int:
    """The home connection drops: the CRM and the softphone fail, the person waits and logs in again."""
    r, desk = day.rng, day.desk
    end = t + length
    t = desk.focus(t, day.softphone, phone_title(day, "未连接"))
    failed = workbench(day)[0]
    t = desk.page(t + sec(r, 2, 20), day.browser, failed, "无法访问此网站")
    if end - t > 330 * SECOND:
        t = day.idle(t + sec(r, 2, 10), end - t - 20 * SECOND)
    else:
        t = desk.page(max(t, end - 30 * SECOND), day.browser, failed, "无法访问此网站")
    t = desk.page(max(t, end), day.browser, *crm_page("/login", "登录", day.system))
    return desk.page(t + sec(r, 8, 25), day.browser, *workbench(day))
