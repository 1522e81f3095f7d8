"""Change notices between collector processes that share one database.

A notice is a topic (``policy``, ``wall``, ``alert``) and a small JSON payload. On PostgreSQL they
travel by LISTEN/NOTIFY on one channel per schema (:class:`PgChangeFeed`): a thread holds a
listening connection and calls the topic's subscribers; :meth:`ChangeFeed.publish` queues a notice
that a sender thread sends within :data:`FLUSH_S`, several at once, so the ingest path never waits
on it. A process ignores its own notices (it has already acted on them).

On SQLite (:class:`ChangeFeed`, one process is the norm) notices stay in the process: ``live`` is
False, and whoever needs other processes' changes checks a version now and then instead
(:class:`collector.policy.PolicyService`).

While the listening connection is down, ``live`` is False and the reset subscribers are called when
it is back (notices may have been missed meanwhile).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, func, select, text

from collector.storage.base import Store
from collector.storage.sql import SqlStore

log = logging.getLogger(__name__)
Subscriber = Callable[[dict[str, Any]], None]
FLUSH_S = 0.05  # how long a queued notice may wait for the sender thread
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more
RECONNECT_S = 1.0


class ChangeFeed:
    """In-process only (SQLite): subscribers hear nothing from other processes."""

    reaches_others = False  # does publish() tell anyone? (publishers may skip gathering notices when not)

    def __init__(self) -> None:
        self.origin = uuid.uuid4().hex[:12]
        self._subs: dict[str, list[Subscriber]] = {}
        self._resets: list[Callable[[], None]] = []
        self.received = 0
        self.sent = 0

    @property
    def live(self) -> bool:
        """True while notices from other processes arrive."""
        return False

    def subscribe(self, topic: str, callback: Subscriber) -> None:
        self._subs.setdefault(topic, []).append(callback)

    def on_reset(self, callback: Callable[[], None]) -> None:
        self._resets.append(callback)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Tell the other processes (queued; sent within :data:`FLUSH_S`)."""

    def notify_in(self, conn: Connection, topic: str, payload: dict[str, Any]) -> None:
        """Tell the other processes when ``conn``'s transaction commits."""

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        return {"live": self.live, "sent": self.sent, "received": self.received}

    def _deliver(self, message: dict[str, Any]) -> None:
        if message.get("o") == self.origin:
            return
        self.received += 1
        for callback in self._subs.get(str(message.get("t")), []):
            try:
                callback(message.get("p") or {})
            except Exception:  # one subscriber's bug must not stop the others or the listener
                log.exception("change notice subscriber for %s failed", message.get("t"))

    def _reset(self) -> None:
        for callback in self._resets:
            try:
                callback()
            except Exception:
                log.exception("change feed reset subscriber failed")


class PgChangeFeed(ChangeFeed):
    """LISTEN/NOTIFY on the channel of this store's schema."""

    reaches_others = True

    def __init__(self, store: SqlStore) -> None:
        super().__init__()
        self.store = store
        with store._read() as conn:
            where = f"{conn.execute(select(func.current_database())).scalar()}." \
                    f"{conn.execute(select(func.current_schema())).scalar()}"
        self.channel = "seatguard_" + hashlib.sha256(where.encode()).hexdigest()[:16]
        self._conninfo = store.url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._stop = threading.Event()
        self._live = threading.Event()
        self._queue: list[str] = []
        self._qlock = threading.Lock()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def live(self) -> bool:
        return self._live.is_set()

    def start(self) -> None:
        if self._threads:
            return
        for target, name in ((self._listen, "notify-listen"), (self._send, "notify-send")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_live(self, timeout: float) -> bool:
        return self._live.wait(timeout)

    def _message(self, topic: str, payload: dict[str, Any]) -> str | None:
        body = orjson.dumps({"t": topic, "o": self.origin, "p": payload}).decode()
        if len(body.encode()) > MAX_PAYLOAD:
            log.warning("change notice %s too large (%d bytes): not sent", topic, len(body))
            return None
        return body

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        body = self._message(topic, payload)
        if body is None or self._stop.is_set():
            return
        with self._qlock:
            if body not in self._queue:  # the same notice twice in one flush says nothing more
                self._queue.append(body)
        self._wake.set()

    def notify_in(self, conn: Connection, topic: str, payload: dict[str, Any]) -> None:
        body = self._message(topic, payload)
        if body is not None:
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": self.channel, "p": body})
            self.sent += 1

    def _send(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            time.sleep(FLUSH_S)  # let a burst of notices gather
            with self._qlock:
                queued, self._queue = self._queue, []
            if not queued:
                continue
            try:
                with self.store._write() as conn:  # one round trip for the whole burst
                    conn.execute(text("SELECT pg_notify(:c, p) FROM unnest(CAST(:ps AS text[])) AS p"),
                                 {"c": self.channel, "ps": queued})
                self.sent += len(queued)
            except Exception as exc:  # best effort: viewers also poll; the next notice may get through
                log.warning("could not send %d change notices: %s", len(queued), exc)

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self._live.set()
                    self._reset()  # anything said while nobody listened is unknown: re-read
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver_raw(note.payload)
            except Exception as exc:  # connection lost or refused: fall back to version checks, retry
                if self._stop.is_set():
                    break
                if self._live.is_set():
                    log.warning("change notices from other collectors lost (%s); reconnecting", exc)
                self._live.clear()
                self._stop.wait(RECONNECT_S)
        self._live.clear()

    def _deliver_raw(self, payload: str) -> None:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("unreadable change notice ignored")
            return
        if isinstance(message, dict):
            self._deliver(message)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(3)


def open_feed(store: Store) -> ChangeFeed:
    """The feed that fits the store's backend (in-process only for any but PostgreSQL)."""
    from collector.storage.postgres import PostgresStore

    return PgChangeFeed(store) if isinstance(store, PostgresStore) else ChangeFeed()
