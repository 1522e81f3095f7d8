"""Shifts entered per agent and day (table ``shifts``): the queries every SQL backend shares.

A row is one agent's entry for one calendar day: ``kind = "shift"`` replaces the agent's usual shift
that day (a rota day), ``kind = "overtime"`` adds a scheduled window to it. Values are checked by
:mod:`collector.shifts` before they get here. :meth:`ShiftQueries.refresh_rollups` recomputes the
stored features of days whose shift changed after the fact, in one write transaction per call.

Every write of the entries changes ``kv.shifts.version`` in the same transaction (a random token), and
runs the caller's ``notify(conn)`` there too (PostgreSQL delivers a NOTIFY when the transaction
commits): the processes that keep days' entries in memory (:mod:`collector.shift_entries`) hear of it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, select, update

from collector.storage import tables as t
from collector.storage.base import Compute, DayShifts

VERSION_KEY = "shifts.version"
Notify = Callable[[Connection], None]


_s = t.shifts.c
_DAY_SHIFTS = select(_s.kind, _s.shift_start, _s.shift_end).where(  # built once: read in every ingest transaction
    and_(_s.agent_id == bindparam("a"), _s.day == bindparam("d")))


def day_shifts(conn: Connection, agent_id: str, day: str) -> DayShifts:
    """The entries of one agent-day, read on ``conn`` (inside the caller's transaction)."""
    rows = conn.execute(_DAY_SHIFTS, {"a": agent_id, "d": day})
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


class ShiftQueries:
    """Mixed into :class:`collector.storage.sql.SqlStore`, whose connections and upsert it uses."""

    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]
    _upsert: Callable[..., None]

    def set_shifts(self, agent_id: str, days: Iterable[str], kind: str, start: str, end: str, by: str,
                   now: float, notify: Notify | None = None) -> int:
        """Enter ``kind`` (start, end) for every day; an entry of that kind already there is replaced."""
        n = 0
        with self._write() as conn:
            for day in days:
                self._upsert(conn, t.shifts, {"agent_id": agent_id, "day": day, "kind": kind},
                             {"shift_start": start, "shift_end": end, "entered_by": by, "entered_at": now})
                n += 1
            self._changed(conn, notify)
        return n

    def _changed(self, conn: Connection, notify: Notify | None) -> None:
        self._upsert(conn, t.kv, {"key": VERSION_KEY}, {"value": secrets.token_hex(8)})
        if notify is not None:
            notify(conn)

    def clear_shifts(self, agent_id: str, days: Iterable[str], kind: str | None = None,
                     notify: Notify | None = None) -> int:
        """Remove the entries of these days (of one kind, or both); returns how many went."""
        s = t.shifts.c
        where = and_(s.agent_id == agent_id, s.day.in_(list(days)))
        if kind is not None:
            where = and_(where, s.kind == kind)
        with self._write() as conn:
            removed = int(conn.execute(t.shifts.delete().where(where)).rowcount or 0)
            if removed:
                self._changed(conn, notify)
            return removed

    def list_shifts(self, first_day: str, last_day: str, agent_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Entries of days in [first_day, last_day], by agent, day and kind (``agent_ids``: only those)."""
        s = t.shifts.c
        q = select(t.shifts).where(and_(s.day >= first_day, s.day <= last_day)).order_by(s.agent_id, s.day, s.kind)
        if agent_ids is not None:
            q = q.where(s.agent_id.in_(agent_ids))
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def shifts_on(self, day: str) -> dict[str, DayShifts]:
        """Every agent's entries for one day (what a report of that day applies)."""
        s = t.shifts.c
        out: dict[str, DayShifts] = {}
        with self._read() as conn:
            for r in conn.execute(select(s.agent_id, s.kind, s.shift_start, s.shift_end).where(s.day == day)):
                out.setdefault(str(r[0]), {})[str(r[1])] = (str(r[2]), str(r[3]))
        return out

    def refresh_rollups(self, agent_id: str, days: Iterable[str], compute: Compute,
                        keep: Collection[str] = ()) -> list[str]:
        """Recompute the stored features of the agent's rollups on these days with ``compute(day, state,
        shifts)``, reading state and entries and writing features in one transaction (an ingest in
        between cannot be overwritten with older numbers). The stored values of the features in ``keep``
        stay (need-to-know, judged across agents by the report: a shift does not change them, and the
        agent's own rollup alone cannot give them). Returns the days refreshed."""
        r = t.rollups.c
        done = []
        with self._write() as conn:
            for day in days:
                row = conn.execute(select(r.state, r.features).where(and_(r.agent_id == agent_id, r.day == day))
                                   .with_for_update()).first()
                if row is None:
                    continue
                feats = compute(day, orjson.loads(row[0]), day_shifts(conn, agent_id, day))
                if feats is None:
                    continue
                stored = orjson.loads(row[1]) if keep and row[1] else {}
                feats = {**feats, **{k: stored[k] for k in keep if k in stored}}
                conn.execute(update(t.rollups).where(and_(r.agent_id == agent_id, r.day == day))
                             .values(features=orjson.dumps(feats).decode()))
                done.append(day)
        return done


def days_between(first: str, last: str) -> Iterator[str]:
    """ISO days from ``first`` to ``last`` inclusive."""
    from datetime import date, timedelta

    a, b = date.fromisoformat(first), date.fromisoformat(last)
    while a <= b:
        yield a.isoformat()
        if a == date.max:  # the calendar's last day: there is no next one to step to
            return
        a += timedelta(days=1)
