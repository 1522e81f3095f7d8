"""Alerts and their deliveries (tables ``alerts``, ``alert_deliveries``: a durable outbox), and the two reads
the silence check makes of an agent's events: the repository of :class:`collector.alerts.service.AlertService`.

An alert and the deliveries it needs are written in one transaction, so an alert is never stored
without its deliveries nor delivered without being stored; a delivery row stays ``pending`` until
its channel took it (``sent``) or gave up (``dead``: the dead-letter list admins see). A candidate
whose key is stored already folds into that alert (dedupe); an alert of an agent and rule delivered
within the rate-limit window is stored ``rate_limited`` and delivered when the window has passed.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from collector.alerts.model import RAISED, UPDATED, Alert
from collector.errors import NotFound, StorageError
from collector.storage import tables as t
from collector.storage.connections import Connections
from collector.storage.tables import alert_deliveries as deliveries
from collector.storage.tables import alerts

STATES = ("open", "acked")
_BY_KEY = select(alerts).where(alerts.c.key == bindparam("k"))


@dataclass(frozen=True)
class Delivery:
    id: int
    uid: str
    alert_id: int
    channel: str
    event: str
    payload: dict[str, Any]
    attempts: int = 0


@dataclass
class Outcome:
    alert: Alert
    event: str | None  # RAISED, UPDATED, or None when nothing is to be delivered
    deliveries: list[Delivery]


class AlertRepo(ABC):
    # -- raising ----------------------------------------------------------------------------------------
    @abstractmethod
    def record(self, candidate: Alert, now: float, rate_limit_s: float, channels: tuple[str, ...],
               base_url: str = "", repeats: bool = True) -> Outcome:
        """Store a new alert or fold a repeat into the existing one (same key); say what is to be delivered
        on ``channels`` (one pending delivery each, written with the alert). ``repeats=False``: a candidate
        whose key is known is no news at all (one alert per silence)."""

    # -- reading and acknowledging ----------------------------------------------------------------------
    @abstractmethod
    def get(self, alert_id: int) -> Alert:
        """The alert, or :class:`~collector.errors.NotFound`."""

    @abstractmethod
    def search(self, teams: list[str] | None = None, state: str | None = None, agent_id: str | None = None,
               day: str | None = None, since: float | None = None, limit: int = 100) -> list[Alert]:
        """Alerts, newest first (``teams``: only theirs; ``since``: raised at or after)."""

    @abstractmethod
    def ack(self, alert_id: int, who: str, note: str, now: float) -> Alert:
        """Acknowledge (once: a second ack keeps the first's who and when)."""

    # -- deliveries -------------------------------------------------------------------------------------
    @abstractmethod
    def pending(self, limit: int = 10_000, touched_before: float | None = None) -> list[Delivery]:
        """Deliveries still to make (``touched_before``: only those nobody attempted or took since)."""

    @abstractmethod
    def claim(self, delivery_id: int, now: float) -> bool:
        """Take a pending delivery over (an orphan of a process that stopped): touch it so that no other
        process takes it too; False when it is no longer pending."""

    @abstractmethod
    def mark(self, delivery_id: int, state: str, attempts: int, error: str | None, now: float) -> None:
        """Record an attempt's outcome: ``pending`` (to retry), ``sent`` or ``dead``."""

    @abstractmethod
    def requeue(self, delivery_id: int, now: float) -> Delivery:
        """A dead letter made pending again (attempts from 0), or NotFound."""

    @abstractmethod
    def dead_letters(self, limit: int = 500) -> list[dict[str, Any]]:
        """Deliveries that gave up, newest first, with their masked payload."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Deliveries per state, and ``alerts``: how many alerts are stored."""

    @abstractmethod
    def purge(self, before_ts: float, held: Collection[str] = ()) -> dict[str, int]:
        """Retention: drop alerts raised before ``before_ts`` and their deliveries, none of an agent in ``held``."""

    # -- what the silence check reads ------------------------------------------------------------------
    @abstractmethod
    def last_event(self, agent_id: str) -> dict[str, Any] | None:
        """``kind``, ``seq``, ``ts`` and ``day`` of the agent's newest event (silence and stop checks), or None."""


class SqlAlertRepo(AlertRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db  # its tables come with the schema (revision 0003)

    # -- raising ------------------------------------------------------------------------------------
    def record(self, candidate: Alert, now: float, rate_limit_s: float, channels: tuple[str, ...],
               base_url: str = "", repeats: bool = True) -> Outcome:
        known = self._no_news(candidate, repeats)
        if known is not None:
            return Outcome(known, None, [])
        try:
            return self._record(candidate, now, rate_limit_s, channels, base_url, repeats)
        except IntegrityError:  # another collector process stored the same key first
            return self._record(candidate, now, rate_limit_s, channels, base_url, repeats)

    def _no_news(self, candidate: Alert, repeats: bool) -> Alert | None:
        """The stored alert of the candidate's key when the candidate is certainly no news (it repeats a
        known alert without a higher value, and no rate-limited delivery may be due), read without the
        write lock: most evaluations after a batch end here. None: let :meth:`_record` decide."""
        with self.db._read() as conn:
            row = conn.execute(_BY_KEY, {"k": candidate.key}).first()
        if row is None:
            return None
        alert = _alert(row)
        if alert.suppressed == "rate_limited" and candidate.suppressed is None and alert.state == "open":
            return None  # the rate-limit window may have passed: decided in the write transaction
        return alert if not repeats or candidate.value <= alert.value else None

    def _record(self, candidate: Alert, now: float, rate_limit_s: float, channels: tuple[str, ...],
                base_url: str, repeats: bool) -> Outcome:
        with self.db._write() as conn:  # the row locked: another process's update of it waits, then reads ours
            row = conn.execute(select(alerts).where(alerts.c.key == candidate.key).with_for_update()).first()
            if row is None:
                return self._insert(conn, candidate, now, rate_limit_s, channels, base_url)
            alert = _alert(row)
            grew = candidate.value > alert.value
            event: str | None = None
            if alert.suppressed == "rate_limited" and candidate.suppressed is None and alert.state == "open":
                if not _limited(conn, alert, now, rate_limit_s):  # the window has passed: deliver it now
                    alert.suppressed, event = None, RAISED
                elif not grew:
                    return Outcome(alert, None, [])
            elif not repeats or not grew:
                return Outcome(alert, None, [])
            elif alert.state == "open" and alert.suppressed is None and candidate.suppressed is None \
                    and not _limited(conn, alert, now, rate_limit_s):
                event = UPDATED
            if grew:
                alert.value, alert.reasons, alert.evidence = candidate.value, candidate.reasons, candidate.evidence
                alert.repeats += 1
            alert.updated_at = now
            values: dict[str, Any] = {"value": alert.value, "updated_at": now, "body": _body(alert)}
            if event is not None:
                values["last_sent_at"] = now
            conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**values))
            if event is None:
                return Outcome(alert, None, [])
            return Outcome(alert, event, self._deliveries(conn, alert, event, channels, now, base_url))

    def _insert(self, conn: Connection, alert: Alert, now: float, rate_limit_s: float,
                channels: tuple[str, ...], base_url: str) -> Outcome:
        alert.raised_at = alert.updated_at = now
        if alert.suppressed is None and _limited(conn, alert, now, rate_limit_s):
            alert.suppressed = "rate_limited"
        sent_at = None if alert.suppressed else now
        result = conn.execute(insert(alerts).values(
            key=alert.key, rule=alert.rule, severity=alert.severity, agent_id=alert.agent_id, team=alert.team,
            day=alert.day, value=alert.value, state=alert.state, raised_at=now, updated_at=now,
            last_sent_at=sent_at, body=_body(alert)))
        alert.id = _pk(result)
        if alert.suppressed:
            return Outcome(alert, None, [])
        return Outcome(alert, RAISED, self._deliveries(conn, alert, RAISED, channels, now, base_url))

    @staticmethod
    def _deliveries(conn: Connection, alert: Alert, event: str, channels: tuple[str, ...], now: float,
                    base_url: str) -> list[Delivery]:
        assert alert.id is not None
        out = []
        for channel in channels:
            uid = uuid.uuid4().hex
            payload = {"event": event, "delivery_id": uid, "alert": alert.to_dict(base_url)}
            result = conn.execute(insert(deliveries).values(
                uid=uid, alert_id=alert.id, channel=channel, event=event, payload=orjson.dumps(payload).decode(),
                state="pending", attempts=0, created_at=now, updated_at=now))
            out.append(Delivery(_pk(result), uid, alert.id, channel, event, payload))
        return out

    # -- reading and acknowledging --------------------------------------------------------------------
    def get(self, alert_id: int) -> Alert:
        with self.db._read() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        return _alert(row)

    def search(self, teams: list[str] | None = None, state: str | None = None, agent_id: str | None = None,
               day: str | None = None, since: float | None = None, limit: int = 100) -> list[Alert]:
        q = select(alerts).order_by(alerts.c.id.desc()).limit(max(1, min(limit, 10_000)))
        if teams is not None:
            q = q.where(alerts.c.team.in_(teams))
        if state:
            q = q.where(alerts.c.state == state)
        if agent_id:
            q = q.where(alerts.c.agent_id == agent_id)
        if day:
            q = q.where(alerts.c.day == day)
        if since is not None:
            q = q.where(alerts.c.raised_at >= since)
        with self.db._read() as conn:
            return [_alert(r) for r in conn.execute(q)]

    def ack(self, alert_id: int, who: str, note: str, now: float) -> Alert:
        with self.db._write() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            alert = _alert(row)
            if alert.state != "acked":
                alert.state, alert.acked_by, alert.acked_at, alert.ack_note = "acked", who, now, note[:500]
                conn.execute(update(alerts).where(alerts.c.id == alert_id)
                             .values(state="acked", body=_body(alert)))
            return alert

    # -- deliveries -----------------------------------------------------------------------------------
    def pending(self, limit: int = 10_000, touched_before: float | None = None) -> list[Delivery]:
        cond = deliveries.c.state == "pending"
        if touched_before is not None:
            cond = and_(cond, deliveries.c.updated_at < touched_before)
        return self._deliveries_where(cond, limit)

    def claim(self, delivery_id: int, now: float) -> bool:
        with self.db._write() as conn:
            res = conn.execute(update(deliveries).where(and_(deliveries.c.id == delivery_id,
                                                             deliveries.c.state == "pending"))
                               .values(updated_at=now))
            return bool(res.rowcount)

    def dead_letters(self, limit: int = 500) -> list[dict[str, Any]]:
        d = deliveries
        q = select(d).where(d.c.state == "dead").order_by(d.c.id.desc()).limit(limit)
        with self.db._read() as conn:
            return [{"id": r.id, "delivery_id": r.uid, "alert_id": r.alert_id, "channel": r.channel,
                     "event": r.event, "attempts": r.attempts, "error": r.last_error, "created_at": r.created_at,
                     "failed_at": r.updated_at, "payload": orjson.loads(r.payload)} for r in conn.execute(q)]

    def counts(self) -> dict[str, int]:
        with self.db._read() as conn:
            rows = conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state))
            out = {str(state): int(n) for state, n in rows}
            out["alerts"] = int(conn.execute(select(func.count()).select_from(alerts)).scalar_one())
        return out

    def mark(self, delivery_id: int, state: str, attempts: int, error: str | None, now: float) -> None:
        with self.db._write() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
                state=state, attempts=attempts, last_error=None if error is None else error[:2000], updated_at=now))

    def requeue(self, delivery_id: int, now: float) -> Delivery:
        with self.db._write() as conn:
            res = conn.execute(update(deliveries).where(and_(deliveries.c.id == delivery_id,
                                                             deliveries.c.state == "dead"))
                               .values(state="pending", attempts=0, updated_at=now))
            if not res.rowcount:
                raise NotFound(f"no dead letter {delivery_id}")
        found = self._deliveries_where(deliveries.c.id == delivery_id, 1)
        return found[0]

    def _deliveries_where(self, cond: Any, limit: int) -> list[Delivery]:
        d = deliveries
        with self.db._read() as conn:
            rows = conn.execute(select(d).where(cond).order_by(d.c.id).limit(limit))
            return [Delivery(r.id, r.uid, r.alert_id, r.channel, r.event, orjson.loads(r.payload), r.attempts)
                    for r in rows]

    def purge(self, before_ts: float, held: Collection[str] = ()) -> dict[str, int]:
        doomed = alerts.c.raised_at < before_ts
        if held:
            doomed = and_(doomed, alerts.c.agent_id.not_in(sorted(set(held))))
        with self.db._write() as conn:
            old = select(alerts.c.id).where(doomed)
            n_del = conn.execute(delete(deliveries).where(deliveries.c.alert_id.in_(old))).rowcount
            n_alerts = conn.execute(delete(alerts).where(doomed)).rowcount
        return {"alerts": int(n_alerts or 0), "alert_deliveries": int(n_del or 0)}

    # -- what the silence check reads ------------------------------------------------------------------
    def last_event(self, agent_id: str) -> dict[str, Any] | None:
        ev = t.events
        with self.db._read() as conn:
            row = conn.execute(select(ev.c.kind, ev.c.seq, ev.c.ts, ev.c.day).where(ev.c.agent_id == agent_id)
                               .order_by(ev.c.seq.desc()).limit(1)).first()
        return None if row is None else {"kind": str(row.kind), "seq": int(row.seq), "ts": str(row.ts),
                                         "day": str(row.day)}


def _limited(conn: Connection, alert: Alert, now: float, rate_limit_s: float) -> bool:
    """Was an alert of this agent and rule delivered within the rate-limit window?"""
    if rate_limit_s <= 0:
        return False
    recent = conn.execute(select(func.count()).select_from(alerts).where(and_(
        alerts.c.agent_id == alert.agent_id, alerts.c.rule == alert.rule,
        alerts.c.last_sent_at >= now - rate_limit_s))).scalar_one()
    return bool(recent)


def _pk(result: Any) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise StorageError("the database did not return the new row's id")
    return int(key[0])


def _body(alert: Alert) -> str:
    return orjson.dumps(alert.to_dict()).decode()


def _alert(row: Any) -> Alert:
    alert = Alert.from_dict(orjson.loads(row.body))
    alert.id = int(row.id)
    alert.state = str(row.state)
    alert.value = float(row.value)
    return alert
