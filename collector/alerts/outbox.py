"""Delivery off the ingest thread: one worker per channel, retries with exponential backoff, and the
dead-letter list.

Each channel has its own lane (a heap of deliveries by due time and a thread), so a receiver that
is down delays only its own deliveries, and a retry waiting for its turn never holds up a newer
alert. A delivery is marked ``sent`` after the channel took it, ``dead`` after a permanent refusal
or ``retry_attempts`` failures; until then it stays ``pending`` in the outbox and is offered again
when the collector restarts (at-least-once: receivers dedupe on ``delivery_id``).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

from collector.alerts.channels import Channel
from collector.alerts.config import AlertConfig
from collector.alerts.errors import DeliveryFailed
from collector.errors import StorageError
from collector.storage.alerts import AlertRepo, Delivery

log = logging.getLogger(__name__)


def backoff(attempts: int, base_s: float, max_s: float) -> float:
    """Delay before attempt ``attempts + 1``: base, 2 x base, 4 x base ... capped at ``max_s``."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


class Lane:
    def __init__(self, channel: Channel, store: AlertRepo, config: AlertConfig) -> None:
        self.channel = channel
        self.store = store
        self.config = config
        self._heap: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self.dead = 0
        self.held: set[int] = set()  # outbox ids queued or in flight in this lane (this process owns them)

    def put(self, delivery: Delivery, delay: float = 0.0) -> None:
        with self._cond:
            self.held.add(delivery.id)
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), delivery))
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name=f"alerts-{self.channel.name}", daemon=True)
                self._thread.start()
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._heap and not self._busy

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stopping:
                if self._heap:
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        self._busy = True
                        return heapq.heappop(self._heap)[2]
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        while (delivery := self._next()) is not None:
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._busy = False

    def _attempt(self, delivery: Delivery) -> None:
        attempts = delivery.attempts + 1
        try:
            self.channel.send(delivery.payload)
        except DeliveryFailed as exc:
            self._failed(delivery, attempts, exc.message, exc.permanent)
            return
        except Exception as exc:  # a channel bug must not kill the lane; the delivery is retried
            log.exception("alert channel %s failed unexpectedly", self.channel.name)
            self._failed(delivery, attempts, f"{exc.__class__.__name__}: {exc}", False)
            return
        self.sent += 1
        self._mark(delivery, "sent", attempts, None)

    def _failed(self, delivery: Delivery, attempts: int, error: str, permanent: bool) -> None:
        self.failed += 1
        if not self.channel.durable:
            log.warning("alert %s not pushed to %s: %s", delivery.alert_id, self.channel.name, error)
            return
        if permanent or attempts >= self.config.retry_attempts:
            self.dead += 1
            log.error("alert %s: delivery %s to %s gave up after %d attempts (%s); see the dead-letter list",
                      delivery.alert_id, delivery.uid, self.channel.name, attempts, error)
            self._mark(delivery, "dead", attempts, error)
            return
        delay = backoff(attempts, self.config.retry_base_s, self.config.retry_max_s)
        log.warning("alert %s: %s attempt %d failed (%s); retry in %.1f s", delivery.alert_id,
                    self.channel.name, attempts, error, delay)
        self._mark(delivery, "pending", attempts, error)
        self.put(Delivery(delivery.id, delivery.uid, delivery.alert_id, delivery.channel, delivery.event,
                          delivery.payload, attempts), delay)

    def _mark(self, delivery: Delivery, state: str, attempts: int, error: str | None) -> None:
        try:
            if self.channel.durable:
                self.store.mark(delivery.id, state, attempts, error, time.time())
        except StorageError as exc:  # stays pending in the outbox: offered again after a restart
            log.error("could not record delivery %s as %s: %s", delivery.uid, state, exc.message)
        finally:
            if state != "pending":  # only once the outbox says so: a sweep never sees it pending and unheld
                with self._cond:
                    self.held.discard(delivery.id)

    def stop(self, timeout: float) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self.channel.close()


class Dispatcher:
    def __init__(self, channels: list[Channel], store: AlertRepo, config: AlertConfig) -> None:
        self.lanes = {c.name: Lane(c, store, config) for c in channels}

    @property
    def durable(self) -> tuple[str, ...]:
        return tuple(name for name, lane in self.lanes.items() if lane.channel.durable)

    def submit(self, delivery: Delivery) -> bool:
        lane = self.lanes.get(delivery.channel)
        if lane is None:
            return False
        lane.put(delivery)
        return True

    def idle(self) -> bool:
        return all(lane.idle() for lane in self.lanes.values())

    def holds(self, delivery_id: int) -> bool:
        """Whether one of this process's lanes has the delivery queued or in flight."""
        return any(delivery_id in lane.held for lane in self.lanes.values())

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: {"sent": lane.sent, "failed": lane.failed, "dead": lane.dead}
                for name, lane in self.lanes.items()}

    def close(self, timeout: float = 5.0) -> None:
        for lane in self.lanes.values():
            lane.stop(timeout)
