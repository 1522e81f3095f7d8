"""Misconduct scenarios, registered by name.

A scenario reshapes one agent-day's :class:`~simulator.plan.DayPlan` before it is rendered: it adds
blocks of activity inside the shift, a session outside it, replaces the work, or kills the agent. Its
``detail`` dict is written to ``ground_truth.json``; renderers may add to it as they run. An extension
registers its own scenario with :func:`register`, exactly as the built-ins below do.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING, Any, ClassVar

from simulator.activities import workbench
from simulator.apps import (
    EXPLORER,
    JIGGLER,
    RECORDERS,
    REMOTE_TOOLS,
    WECHAT,
    App,
    case_page,
    crm_page,
    customer_page,
    customer_tab,
)
from simulator.casework import sec
from simulator.clock import HOUR, MINUTE, time_of_day
from simulator.identifiers import Customer, case_id, mask_id, mask_phone
from simulator.roster import Member
from simulator.workday import Block, DayPlan, Kill, Session

if TYPE_CHECKING:
    from simulator.workday import WorkDay


@dataclass
class Context:
    """What a scenario may look at and change for its agent-day."""

    member: Member
    plan: DayPlan
    rng: Random
    detail: dict[str, Any]

    def moment(self, after: int, before_end: int) -> int:
        """A random time between ``after`` into the shift and ``before_end`` before its end."""
        low, high = self.plan.begin + after, self.plan.finish - before_end
        if high <= low:
            return (self.plan.begin + self.plan.finish) // 2
        return self.rng.randint(low, high)


class Scenario:
    """Base class: subclasses set ``name`` and ``summary`` and implement :meth:`apply`."""

    name: ClassVar[str]
    summary: ClassVar[str]
    needs_shift: ClassVar[bool] = True  # the person works that day (a day off becomes a workday)
    order: ClassVar[int] = 0  # applied in this order; killing the agent comes last
    in_default_mix: ClassVar[bool] = True  # drawn by the default mix (quiet variants are asked for by name)

    def apply(self, ctx: Context) -> None:
        raise NotImplementedError


SCENARIOS: dict[str, type[Scenario]] = {}


def register(cls: type[Scenario]) -> type[Scenario]:
    """Class decorator: make a scenario available by its name."""
    if cls.name in SCENARIOS:
        raise ValueError(f"scenario {cls.name!r} is already registered")
    SCENARIOS[cls.name] = cls
    return cls


def _crm_back(day: WorkDay, t: int, customer: Customer) -> int:
    return day.desk.page(t, day.browser, *customer_page(customer, None, day.system))


@register
class BulkIdCopy(Scenario):
    name = "bulk_id_copy"
    summary = "dozens of ID numbers copied out of the CRM, many pasted into a chat app"
    copies: ClassVar[tuple[int, int]] = (30, 70)
    batch_share: ClassVar[float] = 0.25  # share of copies that take a whole table (many IDs at once)
    to_chat: ClassVar[float] = 0.45  # chance of switching to the chat app after a copy

    def apply(self, ctx: Context) -> None:
        copies = ctx.rng.randint(*self.copies)
        target = WECHAT if ctx.rng.random() < 0.6 else None
        batch_share = self.batch_share * ctx.rng.uniform(0.5, 1.5)
        to_chat = self.to_chat * ctx.rng.uniform(0.5, 1.5)
        ctx.detail.update(copies=copies)

        def render(day: WorkDay, t: int, _end: int) -> int:
            r, desk = day.rng, day.desk
            chat_app = target or day.messenger
            chat_title = r.choice(("微信", "文件传输助手", "张先生", "老刘")) if target else f"{day.im_home} - 李总"
            ctx.detail.update(to_app=chat_app.name, start=time_of_day(t))
            ids = 0
            customer = Customer.make(r)
            for i in range(copies):
                if i % 3 == 0:
                    customer = Customer.make(r)
                    t = _crm_back(day, t, customer)
                else:
                    t = desk.focus(t, day.browser, customer_page(customer, None, day.system)[1])
                t += sec(r, 2, 10)
                if r.random() < batch_share:
                    rows = r.randint(3, 12)
                    desk.copy(
                        t,
                        rows * r.randint(40, 70),
                        None,
                        ids=rows,
                        phones=rows,
                        action="cleared" if rows > 10 else "allowed",
                    )
                else:
                    rows = 1
                    desk.copy(t, 18, mask_id(Customer.make(r).id_number), ids=1)
                ids += rows
                if r.random() < to_chat:
                    t = desk.focus(t + sec(r, 1, 5), chat_app, chat_title)
                t += sec(r, 6, 35)
            ctx.detail.update(id_numbers=ids, end=time_of_day(t))
            return t

        ctx.plan.blocks.append(Block(ctx.moment(HOUR, 2 * HOUR), 30 * MINUTE, render))


_DRIVES = (
    ("E:\\", "exFAT", "KINGSTON"),
    ("E:\\", "FAT32", "U盘"),
    ("F:\\", "exFAT", "SanDisk"),
    ("E:\\", "NTFS", "My Passport"),
    ("F:\\", "FAT32", "USB DISK"),
)


@register
class UsbExport(Scenario):
    name = "usb_export"
    summary = "a customer export written to a removable drive"
    files: ClassVar[tuple[int, int]] = (2, 5)
    size: ClassVar[tuple[int, int]] = (400_000, 9_000_000)

    def apply(self, ctx: Context) -> None:
        mountpoint, fs, label = ctx.rng.choice(_DRIVES)
        count = ctx.rng.randint(*self.files)
        low, high = self.size
        ctx.detail.update(mountpoint=mountpoint, label=label)

        def render(day: WorkDay, t: int, _end: int) -> int:
            r, desk = day.rng, day.desk
            stamp = day.plan.day.strftime("%m%d")
            began = t
            names = [
                f"客户名单_{day.bucket}_{stamp}.xlsx",
                f"逾期客户_{stamp}.csv",
                f"联系人信息_{stamp}.xlsx",
                f"还款明细_{stamp}.csv",
                f"客户资料_全量_{stamp}.xlsx",
            ][:count]
            t = desk.page(
                t,
                day.browser,
                *crm_page(f"/reports/export?bucket={day.bucket}&scope=all", "批量导出", day.system),
            )
            sizes = []
            for name in names:
                t += sec(r, 15, 90)
                sizes.append(r.randint(low, high))
                desk.file(t, f"{day.docs}\\{name}", "created", sizes[-1])
            t += sec(r, 20, 120)
            desk.emit(t, "device.mount", mountpoint=mountpoint, fs=fs, label=label, removable=True)
            t = desk.focus(t + sec(r, 2, 8), EXPLORER, f"{label} ({mountpoint[:2]})")
            for name, size in zip(names, sizes, strict=True):
                t += sec(r, 3, 40)
                desk.file(t, f"{mountpoint}{name}", "created", size, removable=True)
                if r.random() < 0.4:
                    t += sec(r, 1, 5)
                    desk.file(t, f"{day.docs}\\{name}", "deleted", None)
            t += sec(r, 30, 400)
            desk.emit(t, "device.unmount", mountpoint=mountpoint, fs=fs, label=label, removable=True)
            ctx.detail.update(files=names, bytes=sum(sizes), start=time_of_day(began), end=time_of_day(t))
            return t

        ctx.plan.blocks.append(Block(ctx.moment(HOUR, HOUR), 15 * MINUTE, render))


@register
class BrowseWithoutCase(Scenario):
    name = "browse_without_case"
    summary = "many customer records opened with no case behind them"

    spells: ClassVar[tuple[int, int]] = (2, 3)
    pages: ClassVar[tuple[int, int]] = (18, 40)

    def apply(self, ctx: Context) -> None:
        ctx.detail["pages"] = 0
        spells = ctx.rng.randint(*self.spells)
        for _ in range(spells):
            pages = ctx.rng.randint(*self.pages)

            def render(day: WorkDay, t: int, _end: int, pages: int = pages) -> int:
                r = day.rng
                for _ in range(pages):
                    customer = Customer.make(r)
                    t = _crm_back(day, t, customer)
                    if r.random() < 0.3:
                        tab = r.choice(("repayments", "contacts", "loans"))
                        t = day.desk.page(t + sec(r, 3, 15), day.browser, *customer_tab(customer, tab, day.system))
                    t += sec(r, 8, 55)
                ctx.detail["pages"] += pages
                return t

            ctx.plan.blocks.append(Block(ctx.moment(30 * MINUTE, HOUR), pages * 30_000, render))


@register
class AfterHours(Scenario):
    name = "after_hours"
    summary = "the PC used for customer work at night or before dawn, outside any shift"
    needs_shift = False
    minutes: ClassVar[tuple[int, int]] = (35, 90)
    case_share: ClassVar[float] = 0.3  # share of customers looked up through a (pretend) case

    def apply(self, ctx: Context) -> None:
        plan, rng = ctx.plan, ctx.rng
        late_shift = ctx.member.shift.start_ms >= 12 * HOUR
        if late_shift or rng.random() < 0.3:
            start = plan.at("05:30") + rng.randrange(90 * MINUTE)
        else:
            start = plan.at("21:50") + rng.randrange(60 * MINUTE)
        end = min(start + rng.randint(*self.minutes) * MINUTE, plan.at("23:58"))
        case_share = self.case_share * rng.uniform(0.5, 1.5)
        ctx.detail.update(start=time_of_day(start), end=time_of_day(end), pages=0)

        def render(day: WorkDay, t: int, stop: int) -> int:
            r, desk = day.rng, day.desk
            t = desk.page(t, day.browser, *crm_page("/login", "登录", day.system))
            t = desk.page(t + sec(r, 10, 40), day.browser, *workbench(day))
            while t < stop - 3 * MINUTE:
                customer = Customer.make(r)
                if r.random() < case_share:
                    case = case_id(r, day.plan.day.year)
                    url, title = case_page(case)
                    t = desk.page(t + sec(r, 10, 60), day.browser, url, title)
                    day.open_case(t + sec(r, 0.2, 1), case, title)
                    t = desk.page(t + sec(r, 5, 20), day.browser, *customer_page(customer, case, day.system))
                    t += sec(r, 40, 200)
                    day.close_case(t)
                else:
                    t = _crm_back(day, t + sec(r, 10, 60), customer)
                ctx.detail["pages"] += 1
                if r.random() < 0.3:
                    desk.copy(t + sec(r, 3, 12), 11, mask_phone(customer.phone), phones=1)
                t += sec(r, 20, 90)
            return t

        plan.sessions.append(Session(start, end, render))


_REMOTE_TITLES = {
    "AnyDesk.exe": ("AnyDesk", "{a} {b} {c} - AnyDesk"),
    "TeamViewer.exe": ("TeamViewer", "1 {a} {b} {c} - TeamViewer"),
    "ToDesk.exe": ("ToDesk", "远程控制 {a}{b}{c} - ToDesk"),
    "SunloginClient.exe": ("向日葵远程控制", "远程桌面 {a}{b}{c} - 向日葵"),
}


@register
class RemoteAccess(Scenario):
    name = "remote_access"
    summary = "a remote-control tool started and used during the shift"
    uses: ClassVar[tuple[int, int]] = (3, 6)  # later sessions after the first
    use_s: ClassVar[tuple[int, int]] = (60, 360)

    def apply(self, ctx: Context) -> None:
        rng = ctx.rng
        tool = rng.choice(REMOTE_TOOLS)
        home, connected = _REMOTE_TITLES[tool.name]
        connected = connected.format(a=rng.randint(100, 999), b=rng.randint(100, 999), c=rng.randint(100, 999))
        first = ctx.moment(HOUR, 3 * HOUR)
        ctx.detail.update(process=tool.name, start=time_of_day(first), uses=0)

        def render(day: WorkDay, t: int, _end: int, first_use: bool = False) -> int:
            r = day.rng
            if first_use:
                t = day.desk.focus(t, tool, home)
                t += sec(r, 15, 60)
            t = day.desk.focus(t, tool, connected)
            ctx.detail["uses"] += 1
            return t + sec(r, *self.use_s)

        ctx.plan.blocks.append(Block(first, 5 * MINUTE, lambda d, t, e: render(d, t, e, True)))
        later = first
        for _ in range(rng.randint(*self.uses)):
            later += rng.randint(15, 35) * MINUTE
            if later < ctx.plan.finish - 10 * MINUTE:
                ctx.plan.blocks.append(Block(later, 4 * MINUTE, render))


_RECORDER_TITLES = {
    "obs64.exe": "OBS 30.1.2 - 配置文件: 未命名 - 场景: 场景",
    "bdcam.exe": "Bandicam",
    "EVCapture.exe": "EV录屏",
}


@register
class ScreenRecorder(Scenario):
    name = "screen_recorder"
    summary = "screen-recording software started and a recording saved"
    minutes: ClassVar[tuple[int, int]] = (40, 150)
    size: ClassVar[tuple[int, int]] = (150_000_000, 1_800_000_000)

    def apply(self, ctx: Context) -> None:
        tool: App = ctx.rng.choice(RECORDERS)
        start = ctx.moment(HOUR, 3 * HOUR)
        stop = start + ctx.rng.randint(*self.minutes) * MINUTE
        ctx.detail.update(process=tool.name, start=time_of_day(start))

        def begin(day: WorkDay, t: int, _end: int) -> int:
            t = day.desk.focus(t, tool, _RECORDER_TITLES[tool.name])
            return t + sec(day.rng, 15, 90)

        def finish(day: WorkDay, t: int, _end: int) -> int:
            r = day.rng
            t = day.desk.focus(t, tool, _RECORDER_TITLES[tool.name])
            t += sec(r, 3, 20)
            path = f"{day.docs}\\录屏\\{day.plan.day.isoformat()} {time_of_day(t).replace(':', '-')}.mp4"
            day.desk.file(t, path, "created", r.randint(*self.size))
            ctx.detail["file"] = path
            return t + sec(r, 5, 30)

        ctx.plan.blocks.append(Block(start, 2 * MINUTE, begin))
        ctx.plan.blocks.append(Block(min(stop, ctx.plan.finish - 5 * MINUTE), 2 * MINUTE, finish))


def _jiggler(ctx: Context, at: int) -> None:
    """Half the time the jiggler is software: its process starts at ``at``; a USB one leaves no trace."""
    software = ctx.rng.random() < 0.5
    ctx.detail.update(method="software" if software else "hardware")
    if software:
        ctx.detail["process"] = JIGGLER.name

        def start_jiggler(day: WorkDay, t: int, _end: int) -> int:
            return day.desk.launch(t, JIGGLER)

        ctx.plan.blocks.append(Block(at, MINUTE, start_jiggler))


@register
class IdleFreeNoWork(Scenario):
    name = "idle_free_no_work"
    summary = "input never goes idle all day, yet no case is handled (a mouse jiggler)"

    def apply(self, ctx: Context) -> None:
        ctx.plan.cases = False
        ctx.plan.jiggler = True
        _jiggler(ctx, ctx.plan.begin + ctx.rng.randint(1, 15) * MINUTE)


@register
class PresenceWithoutWork(Scenario):
    name = "presence_without_work"
    summary = "automatic input all shift (no idle stretch at all) around a handful of cases"
    in_default_mix = False
    work_share: ClassVar[tuple[float, float]] = (0.15, 0.4)  # chance that a free moment goes to a case

    def apply(self, ctx: Context) -> None:
        ctx.plan.jiggler = True
        ctx.plan.work_share = round(ctx.rng.uniform(*self.work_share), 3)
        ctx.detail["work_share"] = ctx.plan.work_share
        _jiggler(ctx, ctx.plan.begin + ctx.rng.randint(1, 15) * MINUTE)


@register
class KilledMidShift(Scenario):
    name = "killed_mid_shift"
    summary = "the agent killed mid-shift (lost events, a seq gap), restarted later, no clean stop"
    order = 100
    gap_min: ClassVar[tuple[int, int]] = (45, 150)

    def apply(self, ctx: Context) -> None:
        plan, rng = ctx.plan, ctx.rng
        low = max([plan.begin + 90 * MINUTE] + [b.start + b.length + 10 * MINUTE for b in plan.blocks])
        high = max(low, plan.finish - 3 * HOUR)
        at = rng.randint(low, high) if high > low else low
        restart = at + rng.randint(*self.gap_min) * MINUTE
        if restart > plan.finish - 20 * MINUTE:
            restart = at + (plan.finish - at) // 2
        plan.kill = Kill(at, restart, ctx.detail)
        plan.stop_reason = None
        ctx.detail.update(killed_at=time_of_day(at), restarted_at=time_of_day(restart))
