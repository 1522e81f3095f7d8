"""The live wall: what every agent is doing right now, and a pub/sub that wakes its listeners.

State of one agent, from the store (never from the agent's say-so alone):

- ``offline``: revoked (the admin retired it), nothing stored today, or the last thing it said today
  was ``agent.stop`` outside its shift, or so recently that it may still be a reboot (the policy's
  ``stop_grace_min``);
- ``agent_stopped``: the last thing it said today was ``agent.stop``, during its shift, longer ago than
  that grace, and the shift is still on (the same test as the "agent stopped" alert);
- ``agent_silent``: it was running today, never said ``agent.stop``, and no batch arrived for
  ``alert_silent_after_min`` minutes, the same setting the silence alerts use (:data:`SILENT_AFTER_S`
  when that setting is 0, i.e. the alerts are off; heartbeats come every minute: a killed agent, a pulled cable,
  or tampering looks like this);
- ``idle``: its latest input event today is ``input.idle``;
- ``active``: otherwise.

:func:`notify_ingest` wakes the live wall after a stored batch; :func:`ingest_listener` is the same
as an ``IngestService.listeners`` entry (``collector.web.mount_web`` registers it). It is
thread-safe and cheap. Once the hub is attached to the change feed (:meth:`WallHub.attach`, inside
``serve``), every wake-up and alert also goes to the other collector processes on the same
PostgreSQL database (LISTEN/NOTIFY, :mod:`collector.storage.notify`), whose hubs wake their own
listeners (the agents stored during one :data:`WALL_NOTICE_S` window travel in one notice);
listeners also poll, so viewers catch up within seconds even without notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import orjson

from collector.ingest import IngestNotice
from collector.storage.base import Store
from collector.storage.notify import MAX_PAYLOAD, ChangeFeed
from detectors.context import AgentContext
from detectors.policy import Policy
from detectors.presence import stopped_in_shift

log = logging.getLogger(__name__)
CARRY_OVER_SILENCES = 3  # how many silence thresholds yesterday's last event carries the state past midnight
SILENT_AFTER_S = 300.0  # the wall's own threshold only when the silence alerts are switched off
STATES = ("active", "idle", "offline", "agent_silent", "agent_stopped")
_QUEUE_MAX = 1000
WALL_NOTICE_S = 0.25  # other processes hear of stored batches in one notice per window this long


class Subscription:
    """One listener: agent ids pushed from any thread, awaited in the listener's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=_QUEUE_MAX)
        self.overflowed = False
        self.alerts: list[dict[str, Any]] = []

    def push(self, agent_id: str) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: that listener is going away anyway
            self.loop.call_soon_threadsafe(self._put, agent_id)

    def push_alert(self, alert: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._put_alert, alert)

    def _put_alert(self, alert: dict[str, Any]) -> None:
        if len(self.alerts) < _QUEUE_MAX:
            self.alerts.append(alert)
        self._put(str(alert.get("agent_id", "")))

    def take_alerts(self) -> list[dict[str, Any]]:
        """Alerts pushed since the last call (called in the listener's event loop)."""
        out, self.alerts = self.alerts, []
        return out

    def _put(self, agent_id: str) -> None:
        try:
            self.queue.put_nowait(agent_id)
        except asyncio.QueueFull:
            self.overflowed = True

    async def wait(self, timeout: float) -> set[str]:
        """Agent ids notified since the last call; waits up to ``timeout`` for the first one."""
        woke: set[str] = set()
        try:
            woke.add(await asyncio.wait_for(self.queue.get(), timeout))
        except TimeoutError:
            return woke
        while not self.queue.empty():
            woke.add(self.queue.get_nowait())
        return woke


class WallHub:
    """Publish/subscribe of "agent X has new events" and of alerts: this process's listeners, and
    through the change feed (once attached) every other process's."""

    WALL, ALERT = "wall", "alert"

    def __init__(self, window_s: float = WALL_NOTICE_S) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self.feed: ChangeFeed | None = None
        self.window_s = window_s
        self._pending: dict[str, None] = {}  # agents with news for the other processes, in order
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None
        self.notices = 0  # wall notices handed to the feed (each names every agent of its window)

    def attach(self, feed: ChangeFeed) -> None:
        """Fan out to the processes ``feed`` reaches, and wake local listeners on their notices."""
        if self.feed is feed:
            return
        self.feed = feed
        feed.subscribe(self.WALL, self._remote_wall)
        feed.subscribe(self.ALERT, self._remote_alert)

    def _remote_wall(self, payload: dict[str, Any]) -> None:
        for agent_id in payload.get("agents") or ():
            self._local(str(agent_id))

    def _remote_alert(self, payload: dict[str, Any]) -> None:
        if isinstance(payload.get("alert"), dict):
            self._local_alert(payload["alert"])
        elif payload.get("agent_id"):
            self._local(str(payload["agent_id"]))

    def _local(self, agent_id: str) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.push(agent_id)

    def _local_alert(self, alert: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.push_alert(alert)

    def subscribe(self) -> Subscription:
        sub = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, agent_id: str) -> None:
        """Wake this process's listeners now, and the other processes' within :data:`WALL_NOTICE_S`: the
        agents stored in one window travel in one notice (not one per batch)."""
        self._local(agent_id)
        if self.feed is None or not self.feed.reaches_others:
            return
        with self._lock:
            self._pending[agent_id] = None
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_loop, name="wall-notices", daemon=True)
                self._sender.start()
        self._wake.set()

    def _send_loop(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.window_s)  # let the window's batches gather
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Hand the pending agents to the feed now, in as few notices as fit; returns how many."""
        with self._lock:
            agents, self._pending = list(self._pending), {}
        feed = self.feed
        if feed is None or not agents:
            return 0
        sent = 0
        for chunk in _chunks(agents, MAX_PAYLOAD - 200):
            feed.publish(self.WALL, {"agents": chunk})
            sent += 1
        self.notices += sent
        return sent

    def publish_alert(self, alert: dict[str, Any]) -> None:
        self._local_alert(alert)
        if self.feed is not None:
            body: dict[str, Any] = {"alert": alert}
            if len(orjson.dumps(body)) > MAX_PAYLOAD - 200:  # too big for a notice: wake the agent's row instead
                body = {"agent_id": str(alert.get("agent_id", ""))}
            self.feed.publish(self.ALERT, body)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subs)


def _chunks(agents: list[str], max_bytes: int) -> list[list[str]]:
    """``agents`` cut into lists whose JSON stays under ``max_bytes``."""
    out: list[list[str]] = [[]]
    size = 0
    for agent_id in agents:
        cost = len(orjson.dumps(agent_id)) + 1
        if out[-1] and size + cost > max_bytes:
            out.append([])
            size = 0
        out[-1].append(agent_id)
        size += cost
    return out


_HUB = WallHub()


def hub() -> WallHub:
    return _HUB


def notify_ingest(agent_id: str) -> None:
    """Tell this process's live-wall listeners that ``agent_id`` has newly stored events."""
    _HUB.publish(agent_id)


def publish_alert(payload: dict[str, Any]) -> None:
    """Push a raised or updated alert (masked) to this process's open live-wall pages; each stream
    forwards it only to viewers whose scope includes the alert's team."""
    alert = payload.get("alert")
    if isinstance(alert, dict):
        _HUB.publish_alert({**alert, "event": payload.get("event")})


def ingest_listener(notice: IngestNotice) -> None:
    """An :attr:`IngestService.listeners` entry: every committed batch wakes the live wall."""
    notify_ingest(notice.agent_id)


class WallService:
    """Per-agent wall state; the facts read from events are cached until the agent's event count moves."""

    def __init__(self, store: Store, tz: tzinfo, silent_after_min: float,
                 contexts: Callable[[str], AgentContext] | None = None) -> None:
        """``tz``: the zone whose calendar day is today; ``silent_after_min``: the alerts' setting (0: the
        default, :data:`SILENT_AFTER_S`)."""
        self.reads = store.wall
        self.tz = tz
        self.silent_after_min = silent_after_min
        self.contexts = contexts  # the rollups' shift and policy per agent (defaults without it)
        self._lock = threading.Lock()
        self._facts: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}  # (agent_id, day) -> (events, facts)

    def attach(self, feed: ChangeFeed) -> None:
        """Fan the live wall out to every collector process on this database (see :meth:`WallHub.attach`)."""
        _HUB.attach(feed)

    def silent_after_s(self) -> float:
        """Seconds without a batch before a running agent shows as silent: the alerts' setting."""
        minutes = self.silent_after_min
        return minutes * 60.0 if minutes > 0 else SILENT_AFTER_S

    def states(self, agents: list[dict[str, Any]], now: float | None = None) -> list[dict[str, Any]]:
        now = time.time() if now is None else now
        day = datetime.fromtimestamp(now, self.tz).date().isoformat()
        self._forget_days_before(day)
        return [self.state(agent, day, now) for agent in agents]

    def state(self, agent: dict[str, Any], day: str, now: float) -> dict[str, Any]:
        """The agent's live state. Just after midnight an agent still working (a night shift, overtime)
        has no event of the new day yet: when its last event of the day before is at most
        ``CARRY_OVER_SILENCES`` silence thresholds old, its state, app and input carry over, while
        ``cases_today`` counts the new day only. Older days never carry over (the agent is offline)."""
        events = int(agent.get("events") or 0)
        facts = self._cached_facts(agent["agent_id"], day, events)
        if facts["last_kind"] is None:
            before = self._cached_facts(agent["agent_id"], _previous(day), events)
            if _age_s(before["last_ts"], now) <= CARRY_OVER_SILENCES * self.silent_after_s():
                facts = {**before, "cases": facts["cases"]}
        last_seen = agent.get("last_seen")
        if agent.get("revoked_at") is None and facts["last_kind"] == "agent.stop" \
                and self._stopped(agent, str(facts["last_ts"]), now):
            state = "agent_stopped"
        elif agent.get("revoked_at") is not None or facts["last_kind"] in (None, "agent.stop"):
            state = "offline"
        elif last_seen is None or now - float(last_seen) > self.silent_after_s():
            state = "agent_silent"
        elif facts["input"] == "input.idle":
            state = "idle"
        else:
            state = "active"
        return {"agent_id": agent["agent_id"], "team": agent["team"], "state": state, "app": facts["app"],
                "cases_today": facts["cases"], "last_event": facts["last_ts"],
                "last_clock": self._clock(facts["last_ts"]), "last_seen": last_seen,
                "revoked": agent.get("revoked_at") is not None}

    def _stopped(self, agent: dict[str, Any], stop_ts: str, now: float) -> bool:
        if self.contexts is not None:
            ctx = self.contexts(agent["agent_id"])
            shift, policy = (ctx.shift_start, ctx.shift_end), ctx.policy
        else:
            shift, policy = (agent.get("shift_start") or "09:00", agent.get("shift_end") or "18:00"), Policy()
        try:
            stopped_at = datetime.fromisoformat(stop_ts)
        except ValueError:
            return False
        return stopped_in_shift(shift, policy.shift_grace_min, policy.stop_grace_min, stopped_at,
                                datetime.fromtimestamp(now, self.tz))

    def _clock(self, ts: str | None) -> str | None:
        if ts is None:
            return None
        return datetime.fromisoformat(ts).astimezone(self.tz).strftime("%H:%M:%S")

    def _cached_facts(self, agent_id: str, day: str, events: int) -> dict[str, Any]:
        with self._lock:
            hit = self._facts.get((agent_id, day))
        if hit is not None and hit[0] == events:
            return hit[1]
        facts = self._read_facts(agent_id, day)
        with self._lock:
            self._facts[(agent_id, day)] = (events, facts)
        return facts

    def _forget_days_before(self, day: str) -> None:
        """Keep the cache to the current day and the one before (at most two entries per agent)."""
        keep = (day, _previous(day))
        with self._lock:
            for key in [k for k in self._facts if k[1] not in keep]:
                del self._facts[key]

    def _read_facts(self, agent_id: str, day: str) -> dict[str, Any]:
        return self.reads.day_facts(agent_id, day)


def _previous(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _age_s(ts: str | None, now: float) -> float:
    """Seconds from an event's ``ts`` to ``now`` (infinite without one or when unreadable)."""
    if ts is None:
        return float("inf")
    try:
        return now - datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return float("inf")
