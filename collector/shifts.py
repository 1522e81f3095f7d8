"""Shifts per agent and day: the rota a lead or manager enters, and scheduled overtime.

An agent has a usual shift (``agents.shift_start``/``shift_end``, from enrollment). For any calendar
day a person in charge may enter

- a **shift** for that day (a rota day): it replaces the usual shift that day;
- **overtime** for that day: a window added to the day's shift. Scheduled overtime is in the shift:
  activity in it is never "outside the shift".

Admins may enter shifts for every agent and day, managers for the agents of their own teams and for
yesterday, today and later days only (a lead enters last night's overtime the next morning; an older
day's stored features, and the after-hours rules with them, are moved only by an admin). Every change
(and every refusal) is audited; the day's report page lists entries made after the day (who, when).
The CLI acts as the data folder's owner (actor ``cli``).

When are shifts applied? At ingest, each agent-day's rollup is built with that day's entries, so the
features stored for the self-baseline are right from the start. An entry made or changed *after* the
day's events arrived recomputes the stored features of those days at once
(:meth:`collector.storage.shifts.ShiftQueries.refresh_rollups`; rollup state does not depend on the
shift, so nothing is re-read from raw events), and the daily report applies the day's entries to the
rollup state it scores anyway. A report already built for such a day is rebuilt only when asked.
The real-time rules and the live checks judge the day with its entries as entered at that moment too
(:meth:`collector.rollups.RollupUpdater.context_on`, the report's own way of applying them), read from
memory (:mod:`collector.shift_entries`); every change here drops the days it touched there, in this
process at once and in the others by a change notice or the stored version.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from collector.access import AccessService
from collector.accounts import CLI as CLI  # the command line acts as it (re-exported for shift_cli)
from collector.accounts import Principal
from collector.errors import CollectorError, Forbidden, NotFound
from collector.metrics import Metrics
from collector.shift_entries import ShiftEntries
from collector.storage.base import Store
from collector.storage.shifts import DayShifts, days_between
from contract.masking import mask_text
from detectors.context import AgentContext
from detectors.errors import DetectorError
from detectors.need_to_know import JUDGED_FEATURES
from detectors.outside import extended
from detectors.rollup import DayRollup

log = logging.getLogger(__name__)
KINDS = ("shift", "overtime")
EDITORS = ("admin", "manager")  # managers: the agents of their own teams only
READERS = ("admin", "security", "manager")
MAX_DAYS = 366  # one entry covers at most a year of days
MANAGER_PAST_DAYS = 1  # managers may enter or clear yesterday (last night's overtime), older days need an admin
SHOWN_CHARS = 80  # typed text quoted in a message or a log line is cut to this
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits, whole string (fullmatch)


class BadShift(CollectorError):
    """A shift entry that cannot be stored (400 bad_shift): what is wrong is in the message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="bad_shift", status=400)


def day_context(ctx: AgentContext, entries: DayShifts) -> AgentContext:
    """``ctx`` with one day's entries applied: that day's shift, and its scheduled overtime."""
    shift = entries.get("shift")
    overtime = entries.get("overtime")
    if shift is None and overtime is None:
        return ctx
    start, end = shift or (ctx.shift_start, ctx.shift_end)
    return replace(ctx, shift_start=start, shift_end=end, overtime=(overtime,) if overtime else ())


def one_window(ctx: AgentContext) -> AgentContext:
    """``ctx`` with its overtime folded into the shift where it touches it (checks that take one window)."""
    if not ctx.overtime:
        return ctx

    def minutes(hhmm: str) -> int:
        return int(hhmm[:2]) * 60 + int(hhmm[3:])

    start, end = extended(minutes(ctx.shift_start), minutes(ctx.shift_end),
                          [(minutes(a), minutes(b)) for a, b in ctx.overtime])
    return replace(ctx, shift_start=f"{start // 60:02d}:{start % 60:02d}", shift_end=f"{end // 60:02d}:{end % 60:02d}",
                   overtime=())


def shown(text: object) -> str:
    """Text the caller typed, quoted for a message or a log line: masked first (privacy rule 1; a cut could
    leave part of an ID number the masking no longer sees), then at most :data:`SHOWN_CHARS` characters."""
    value = mask_text(str(text))
    return repr(value[:SHOWN_CHARS]) + ("..." if len(value) > SHOWN_CHARS else "")


def parse_days(day: str | None, first: str | None, last: str | None) -> list[str]:
    """One ``day``, or every day from ``first`` to ``last``; refused unless exactly one form is given."""
    if bool(day) == bool(first or last) or bool(first) != bool(last):
        raise BadShift("give one date, or a first and a last date")
    for text in (day or first or "", day or last or ""):
        try:
            date.fromisoformat(text)
        except ValueError:
            raise BadShift(f"dates are YYYY-MM-DD, not {shown(text)}") from None
    a = date.fromisoformat(day or first or "")
    b = date.fromisoformat(day or last or "")
    if b < a:
        raise BadShift("the last date is before the first")
    if (b - a).days >= MAX_DAYS:
        raise BadShift(f"one entry covers at most {MAX_DAYS} days")
    return list(days_between(a.isoformat(), b.isoformat()))


def check_window(start: str, end: str) -> tuple[str, str]:
    for value in (start, end):
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise BadShift(f"times are HH:MM (00:00 to 23:59), not {str(value)[:20]!r}")
    if start == end:
        raise BadShift("a shift needs different start and end times")
    return start, end


class Contexts(Protocol):
    """An agent's usual context (:meth:`collector.rollups.RollupUpdater.context`; the updater applies
    this module's entries, so it is handed in rather than imported)."""

    def context(self, agent_id: str, agent: dict[str, Any] | None = None) -> AgentContext: ...


class ShiftService:
    def __init__(self, store: Store, access: AccessService, contexts: Contexts, metrics: Metrics,
                 tz: tzinfo, kept: ShiftEntries | None = None) -> None:
        self.store = store
        self.access = access
        self.contexts = contexts
        self.metrics = metrics
        self.tz = tz
        self.kept = ShiftEntries(store) if kept is None else kept  # the days' entries kept in memory: dropped on change

    def _notify(self, days: list[str]) -> Callable[[Any], None]:
        """What the writing transaction runs: tell the other processes which days changed."""
        feed, topic, payload = self.kept.feed, self.kept.TOPIC, self.kept.notice(days)
        return lambda conn: feed.notify_in(conn, topic, payload)

    def earliest_for_managers(self) -> str:
        """The first day a manager may enter or clear: yesterday (a lead enters last night's overtime the next
        morning). Older days' stored features are only recomputed by an admin."""
        today = datetime.now(self.tz).date()
        return (today - timedelta(days=MANAGER_PAST_DAYS)).isoformat()

    def _editable(self, who: Principal, agent_id: str, days: list[str], action: str, target: str,
                  remote: str | None) -> None:
        access = self.access
        agent = self.store.get_agent(agent_id)
        if agent is None:  # no agent_id column: the id is the caller's text, maybe longer than any stored id
            access.audit(who, action, target, False, remote)
            raise NotFound(f"no agent {shown(agent_id)}")
        why = None
        if not (who.role == "admin" or (who.role == "manager" and agent["team"] in who.teams)):
            why = f"agent {shown(agent_id)} is not in a team whose shifts you manage"
        elif who.role != "admin" and days and days[0] < self.earliest_for_managers():
            why = (f"managers enter or clear shifts from {self.earliest_for_managers()} on; "
                   f"{days[0]} is older and needs an admin")
        access.audit(who, action, target, why is None, remote, agent_id)
        if why is not None:
            log.warning("shift %s by %s refused: %s", action, who.name, why)
            self.metrics.shifts.labels("refused").inc()
            raise Forbidden(why)

    def days(self, day: str | None, first: str | None, last: str | None) -> list[str]:
        """:func:`parse_days`, a refusal logged and counted."""
        try:
            return parse_days(day, first, last)
        except BadShift as exc:
            raise self._refused(exc) from None

    def _refused(self, why: BadShift) -> BadShift:
        log.warning("shift entry refused: %s", why.message)
        self.metrics.shifts.labels("refused").inc()
        return why

    def set(self, who: Principal, agent_id: str, days: list[str], start: str, end: str, overtime: bool = False,
            remote: str | None = None) -> dict[str, Any]:
        """Enter the day's shift (or, ``overtime``, a scheduled overtime window) for every day in ``days``."""
        kind = "overtime" if overtime else "shift"
        try:
            check_window(start, end)
            if not days:
                raise BadShift("no days given")
        except BadShift as exc:
            raise self._refused(exc) from None
        target = f"{agent_id} {days[0]}..{days[-1]} {kind} {start}-{end}"
        self._editable(who, agent_id, days, "set_shift", target, remote)
        self.store.set_shifts(agent_id, days, kind, start, end, who.name, time.time(), self._notify(days))
        self.kept.drop(days)
        refreshed = self.refresh(agent_id, days)
        self.metrics.shifts.labels("set").inc()
        log.info("%s set %s for %s on %d day(s) %s..%s (%d stored day(s) recomputed)", who.name, kind, agent_id,
                 len(days), days[0], days[-1], len(refreshed))
        return {"agent_id": agent_id, "kind": kind, "start": start, "end": end, "days": days,
                "recomputed": refreshed}

    def clear(self, who: Principal, agent_id: str, days: list[str], kind: str | None = None,
              remote: str | None = None) -> dict[str, Any]:
        if kind is not None and kind not in KINDS:
            raise self._refused(BadShift(f"kind is one of {', '.join(KINDS)}"))
        target = f"{agent_id} {days[0]}..{days[-1]} {kind or 'all'}"
        self._editable(who, agent_id, days, "clear_shift", target, remote)
        removed = self.store.clear_shifts(agent_id, days, kind, self._notify(days))
        self.kept.drop(days)
        refreshed = self.refresh(agent_id, days) if removed else []
        self.metrics.shifts.labels("cleared").inc(removed)
        return {"agent_id": agent_id, "removed": removed, "recomputed": refreshed}

    def entries(self, who: Principal, first: str, last: str, agent_id: str | None = None,
             remote: str | None = None) -> list[dict[str, Any]]:
        """Entries in the caller's scope (admins and security: all; managers: their teams), audited per agent
        shown."""
        access = self.access
        if who.role not in READERS:
            access.require_role(who, READERS, "read_shifts", agent_id or "shifts", remote)
        teams = access.visible_teams(who)
        agents = {a["agent_id"]: a for a in self.store.list_agents(teams)}
        if agent_id is not None:
            if agent_id not in agents:
                known = self.store.get_agent(agent_id) is not None
                access.audit(who, "read_shifts", agent_id, False, remote, agent_id if known else None)
                if not known:
                    raise NotFound(f"no agent {shown(agent_id)}")
                raise Forbidden(f"agent {shown(agent_id)} is outside your scope")
            ids = [agent_id]
        else:
            ids = sorted(agents)
        rows = self.store.list_shifts(first, last, ids)
        self.access.audit_shown(who, "read_shifts", f"{first}..{last}", (r["agent_id"] for r in rows),
                                          remote)
        return [{"agent_id": r["agent_id"], "day": r["day"], "kind": r["kind"], "start": r["shift_start"],
                 "end": r["shift_end"], "entered_by": r["entered_by"], "entered_at": r["entered_at"]} for r in rows]

    def entered_late(self, who: Principal, day: str, remote: str | None = None) -> list[dict[str, Any]]:
        """The day's entries (in the caller's scope) made after the day was over: they recomputed its stored
        features, so the day's report shows who entered them and when. Nothing for roles that do not read
        shifts."""
        if who.role not in READERS or date.fromisoformat(day) == date.max:  # the calendar's last day is never over
            return []
        over = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(),
                                self.tz).timestamp()
        access = self.access
        ids = [a["agent_id"] for a in self.store.list_agents(access.visible_teams(who))]
        rows = [r for r in self.store.list_shifts(day, day, ids) if float(r["entered_at"]) >= over]
        if rows:  # audited per agent shown; a page with none to show writes no record
            access.audit_shown(who, "read_shifts", f"{day} entered late", (r["agent_id"] for r in rows), remote)
        return [{"agent_id": r["agent_id"], "day": r["day"], "kind": r["kind"], "start": r["shift_start"],
                 "end": r["shift_end"], "entered_by": r["entered_by"], "entered_at": r["entered_at"]} for r in rows]

    def refresh(self, agent_id: str, days: list[str]) -> list[str]:
        """Recompute the stored features of these days' rollups with their (new) entries."""
        base = self.contexts.context(agent_id, self.store.get_agent(agent_id) or {})
        today = datetime.now(self.tz).date().isoformat()

        def compute(day: str, state: dict[str, Any], entries: DayShifts) -> dict[str, float] | None:
            try:
                return DayRollup.from_state(day_context(base, entries), state).features()
            except DetectorError as exc:
                log.error("rollup %s/%s unreadable (%s): its features were not recomputed", agent_id, day, exc)
                return None

        return self.store.refresh_rollups(agent_id, [d for d in days if d <= today], compute, JUDGED_FEATURES)
