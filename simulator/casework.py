"""Customer cases: an inbound service call, an outbound collections call, and what happens
during one. Each function takes the :class:`WorkDay` and a start time and returns when it ended."""

from __future__ import annotations

from random import Random
from typing import TYPE_CHECKING

from simulator.apps import (
    KB,
    KB_TOPICS,
    NOTEPAD,
    case_page,
    customer_page,
    customer_tab,
    identity_page,
)
from simulator.clock import SECOND
from simulator.identifiers import Customer, case_id, mask_id, mask_phone

if TYPE_CHECKING:
    from simulator.workday import WorkDay

_PHONE_LABEL = {"microsip.exe": "MicroSIP", "Zoiper5.exe": "Zoiper", "AgentBar.exe": "坐席工具条"}
_NOTES = (
    "客户表示本月25日前还款",
    "已告知逾期费用及征信影响",
    "客户要求提前结清，已报价",
    "客户称已通过支付宝还款，待核实",
    "协商分期，等待审批",
    "客户投诉催收频率，已安抚",
    "更换联系电话，已核实身份",
    "客户失联，联系紧急联系人",
    "查询还款计划，已解释",
    "客户申请减免罚息",
)


def sec(rng: Random, low: float, high: float) -> int:
    """A random duration in ms between ``low`` and ``high`` seconds."""
    return int(rng.uniform(low, high) * SECOND)


def phone_title(day: WorkDay, state: str, number: str = "") -> str:
    label = _PHONE_LABEL[day.softphone.name]
    return f"{label} - {state} {number}" if number else f"{label} - {state}"


def _shown_number(day: WorkDay, customer: Customer, raw_share: float) -> tuple[str, tuple[str, ...]]:
    if day.rng.random() < raw_share:
        return customer.phone, (customer.phone,)
    return mask_phone(customer.phone), ()


def kb_page(rng: Random) -> tuple[str, str]:
    article = rng.randrange(len(KB_TOPICS))
    return f"{KB}/articles/{1040 + article * 7}", f"{KB_TOPICS[article]} - 知识库"


# ---------------------------------------------------------------- casework


def _case_body(day: WorkDay, t: int, end: int, customer: Customer, case: str) -> int:
    """What happens while a call is on: tabs, notes, copies, a hold, maybe a long silence."""
    r, desk, traits = day.rng, day.desk, day.member.traits
    mean_gap = 150.0 / traits.switching
    copy_weight = traits.copy_rate * 1.2
    idled = False
    identity = r.random() < 0.025
    while True:
        nxt = t + int(r.expovariate(1.0 / mean_gap) * SECOND) + 6 * SECOND
        if nxt >= end - 10 * SECOND:
            return t
        t = nxt
        if identity:
            identity = False
            url, title = identity_page(customer, day.system)
            t = desk.page(t, day.browser, url, title, raw=(customer.id_number,))
            continue
        action = r.choices(_BODY_ACTIONS, (3.0, 3.0, 1.5, copy_weight * 4, 1.2, 0.4, 0.5, 1.0))[0]
        if action == "case":
            t = desk.page(t, day.browser, *case_page(case))
        elif action == "tab":
            tab = r.choice(("repayments", "contacts", "loans", "calls"))
            t = desk.page(t, day.browser, *customer_tab(customer, tab, day.system))
        elif action == "notes":
            t = desk.focus(t, NOTEPAD, "工作笔记.txt")
            if r.random() < 0.4:
                note = r.choice(_NOTES)
                t += sec(r, 5, 40)
                desk.copy(t, len(note) + r.randint(0, 60), note[:20])
        elif action == "copy":
            copy_in_crm(day, t, customer, case)
        elif action == "phone":
            t = desk.focus(t, day.softphone, phone_title(day, "保持"))
        elif action == "kb":
            t = desk.page(t, day.browser, *kb_page(r))
        elif action == "chat":
            t = desk.focus(t, day.messenger, day.im_chat())
        elif action == "idle" and not idled and end - t > 480 * SECOND and r.random() < traits.idle_prone * 3:
            idled = True
            t = day.idle(t, sec(r, 305, 560))
        else:
            t = desk.focus(t, day.browser, customer_page(customer, case, day.system)[1])


_BODY_ACTIONS = ("case", "tab", "notes", "copy", "phone", "kb", "chat", "idle")


def copy_in_crm(day: WorkDay, t: int, customer: Customer, case: str) -> None:
    """A legitimate copy from the CRM: a phone to dial, the case number, an amount, rarely an ID."""
    r, desk = day.rng, day.desk
    if desk.front is None or desk.front.app is not day.browser:
        t = desk.focus(t, day.browser, customer_page(customer, case, day.system)[1])
        t += sec(r, 1, 6)
    what = r.random()
    if what < 0.04:
        desk.copy(t, 18, mask_id(customer.id_number), ids=1)
    elif what < 0.45:
        desk.copy(t, 11, mask_phone(customer.phone), phones=1)
    elif what < 0.8:
        desk.copy(t, len(case), case)
    else:
        amount = f"{r.uniform(300, 48000):,.2f}"
        desk.copy(t, len(amount), amount)


def service_case(day: WorkDay, t: int) -> int:
    """An inbound customer-service call."""
    r, desk = day.rng, day.desk
    customer = Customer.make(r)
    case = case_id(r, day.plan.day.year)
    number, raw = _shown_number(day, customer, 0.03)
    t = desk.focus(t, day.softphone, phone_title(day, "来电", number), raw)
    t += sec(r, 1.5, 6)
    url, title = customer_page(customer, case, day.system)
    t = desk.page(t, day.browser, url, title)
    t += sec(r, 0.2, 1.2)
    day.open_case(t, case, title)
    end = t + day.handling(330, 0.55)
    t = _case_body(day, t, end, customer, case)
    t = max(t, end)
    t = desk.page(t, day.browser, f"{case_page(case)[0]}/summary", f"通话小结 - Case {case} - CRM")
    t += int(sec(r, 12, 75) * day.slowness)
    day.close_case(t)
    return t + sec(r, 2, 45)


def collection_case(day: WorkDay, t: int) -> int:
    """An outbound collections call from the agent's work list; many go unanswered."""
    r, desk = day.rng, day.desk
    case, customer = day.next_account()
    url, title = case_page(case)
    t = desk.page(t, day.browser, url, title)
    t += sec(r, 0.2, 1.0)
    day.open_case(t, case, title)
    t += sec(r, 3, 15)
    t = desk.page(t, day.browser, *customer_page(customer, case, day.system))
    raw: tuple[str, ...]
    if r.random() < 0.05:
        t += sec(r, 2, 6)
        desk.copy(t, 11, mask_phone(customer.phone), phones=1)
        t += sec(r, 2, 5)
        number, raw = customer.phone, (customer.phone,)
    else:
        number, raw = _shown_number(day, customer, 0.01)
    t = desk.focus(t + sec(r, 1, 4), day.softphone, phone_title(day, "呼出", number), raw)
    log_url, log_title = f"{url}/log", f"催记 - Case {case} - CRM"
    if r.random() > day.member.traits.answer_rate:
        t += sec(r, 20, 60)
        t = desk.page(t, day.browser, log_url, log_title)
        t += int(sec(r, 8, 30) * day.slowness)
        day.close_case(t)
        return t + sec(r, 3, 20)
    end = t + day.handling(450, 0.6)
    t = desk.focus(t + sec(r, 5, 20), day.softphone, phone_title(day, "通话中", mask_phone(customer.phone)))
    t = max(_case_body(day, t, end, customer, case), end)
    t = desk.page(t, day.browser, log_url, log_title)
    if r.random() < 0.3:
        t = desk.page(t + sec(r, 10, 40), day.browser, f"{url}/ptp", f"承诺还款 - Case {case} - CRM")
    t += int(sec(r, 20, 90) * day.slowness)
    day.close_case(t)
    return t + sec(r, 3, 25)


def casework(day: WorkDay, t: int) -> int:
    if day.member.team.kind == "col":
        return collection_case(day, t)
    return service_case(day, t)
