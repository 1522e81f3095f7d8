"""Quiet versions of every misconduct scenario: the same act, done small enough to pass a fixed rule.

Each is registered as ``quiet_<name>`` and draws its own, smaller, parameters at random per seed: a
handful of ID numbers copied one at a time, one small file on a stick, a few customers looked up, a
short night session, one brief remote session, a short recording, a jiggled afternoon, a short kill,
or automatic input around a fifth of the usual cases. None is in the default mix; the evaluation
(``bench/evaluate.py``) asks for them by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from simulator import activities
from simulator.clock import HOUR, MINUTE, time_of_day
from simulator.scenarios import (
    AfterHours,
    BrowseWithoutCase,
    BulkIdCopy,
    Context,
    KilledMidShift,
    PresenceWithoutWork,
    RemoteAccess,
    Scenario,
    ScreenRecorder,
    UsbExport,
    _jiggler,
    register,
)
from simulator.workday import Block

if TYPE_CHECKING:
    from simulator.workday import WorkDay


@register
class QuietBulkIdCopy(BulkIdCopy):
    name = "quiet_bulk_id_copy"
    summary = "a handful of ID numbers copied one at a time, now and then taken to a chat app"
    in_default_mix = False
    copies = (5, 14)
    batch_share = 0.0
    to_chat = 0.15


@register
class QuietUsbExport(UsbExport):
    name = "quiet_usb_export"
    summary = "one small customer export written to a removable drive"
    in_default_mix = False
    files = (1, 1)
    size = (30_000, 600_000)


@register
class QuietBrowseWithoutCase(BrowseWithoutCase):
    name = "quiet_browse_without_case"
    summary = "a few customer records opened with no case behind them"
    in_default_mix = False
    spells = (1, 2)
    pages = (4, 9)


@register
class QuietAfterHours(AfterHours):
    name = "quiet_after_hours"
    summary = "a short customer-work session at night, half of it through cases"
    in_default_mix = False
    minutes = (12, 30)
    case_share = 0.5


@register
class QuietRemoteAccess(RemoteAccess):
    name = "quiet_remote_access"
    summary = "a remote-control tool started for one or two brief sessions"
    in_default_mix = False
    uses = (0, 1)
    use_s = (40, 180)


@register
class QuietScreenRecorder(ScreenRecorder):
    name = "quiet_screen_recorder"
    summary = "a short screen recording"
    in_default_mix = False
    minutes = (4, 20)
    size = (8_000_000, 120_000_000)


@register
class QuietIdleFreeNoWork(Scenario):
    name = "quiet_idle_free_no_work"
    summary = "a jiggler keeps input alive through part of the shift while no case is handled"
    in_default_mix = False
    minutes: ClassVar[tuple[int, int]] = (90, 240)

    def apply(self, ctx: Context) -> None:
        length = ctx.rng.randint(*self.minutes) * MINUTE
        start = ctx.moment(HOUR, length + HOUR)
        ctx.detail.update(start=time_of_day(start), minutes=length // MINUTE)

        def render(day: WorkDay, t: int, end: int) -> int:
            while t < end:
                t = activities.jiggle(day, t, end)
            return t

        _jiggler(ctx, start)
        ctx.plan.blocks.append(Block(start + MINUTE, length, render))


@register
class QuietKilledMidShift(KilledMidShift):
    name = "quiet_killed_mid_shift"
    summary = "the agent killed for a short while mid-shift, restarted, no clean stop"
    in_default_mix = False
    gap_min = (12, 28)


@register
class QuietPresenceWithoutWork(PresenceWithoutWork):
    name = "quiet_presence_without_work"
    summary = "automatic input all shift around noticeably fewer cases than usual"
    in_default_mix = False
    work_share = (0.45, 0.7)
