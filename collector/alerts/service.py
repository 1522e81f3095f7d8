"""The alert service: hears committed batches, raises alerts, hands them to the delivery lanes.

``on_ingest`` is the ingest listener: it only queues the notice and wakes the evaluator thread, so
ingest is never slowed down or failed by alerting. The evaluator coalesces the notices queued within
:data:`GATHER_S` into the agent-days they touched and evaluates each once; under a steady stream of
batches a pass starts at most every :data:`PASS_EVERY_S`, so that an agent-day is judged about once a
second however many batches it receives (the first batch after a quiet spell is judged within
:data:`GATHER_S`). ``start`` (inside ``serve``) also runs the
silence checker every ``silence_check_s`` and offers again whatever the outbox still holds.

With several collector processes on one database, the silence check (``silence_check``) and the
outbox sweep (``alert_retries``) are jobs of :class:`collector.jobs.JobScheduler`: each runs once per
cluster and period, and every run is recorded. A process keeps a short lease as a live outbox owner;
the sweep takes over pending deliveries that no live process holds: all of them (except this
process's own) when no other owner is alive, otherwise only those untouched for longer than the
longest retry delay plus :data:`ORPHAN_GRACE_S`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Collection
from datetime import datetime, tzinfo
from typing import Any

from collector.access import AccessService
from collector.accounts import Principal
from collector.alerts.channels import Channel, build_channels
from collector.alerts.clock import Clock, SystemClock
from collector.alerts.config import AlertConfig
from collector.alerts.evaluate import Contexts, Labels, RuleEvaluator, RuleSource
from collector.alerts.model import Alert
from collector.alerts.outbox import Dispatcher
from collector.alerts.silence import SilenceChecker
from collector.errors import CollectorError, Forbidden, StorageError
from collector.ingest import IngestNotice
from collector.jobs import JobScheduler
from collector.storage.alerts import Delivery
from collector.storage.base import Store
from detectors.day_state import INTEGRITY_KINDS
from detectors.scoring import ScoringConfig

log = logging.getLogger(__name__)
ALERT_ROLES = ("admin", "security", "manager")
OUTBOX_ROLE = "outbox"
ORPHAN_GRACE_S = 60.0  # beyond the longest retry delay: a live owner would have touched the delivery by then
SWEEP_S = 60.0  # how often the outbox is swept for orphaned deliveries
TICK_MAX_S = 10.0  # the checker thread's longest sleep (the outbox lease is refreshed every tick)
GATHER_S = 0.1  # notices arriving this close together are evaluated together
PASS_EVERY_S = 1.0  # under load, evaluation passes start at least this far apart (see the module docstring)
FRESH_S = 2.0  # a delivery touched this recently may be on its way into this process's own lanes


class AlertService:
    """Raises, stores and delivers alerts. It is handed what it uses: the store, the scope checks
    (``access``), agent contexts (``contexts``: the rollup updater), the reviewer labels that tune the
    rules (``labels``, with the ``[scoring]`` settings), the cluster's job scheduler, the collector's time zone
    and its alert settings."""

    def __init__(self, store: Store, access: AccessService, contexts: Contexts, labels: Labels,
                 scoring: ScoringConfig, jobs: JobScheduler, tz: tzinfo, config: AlertConfig,
                 clock: Clock | None = None, channels: list[Channel] | None = None) -> None:
        self.access = access
        self.tz = tz
        self.config = config
        self.clock = clock or SystemClock()
        self.store = store.alerts
        self.rules = RuleSource(labels, scoring, self.clock)
        self.evaluator = RuleEvaluator(contexts, tz, self.clock, self.rules)
        self.silence = SilenceChecker(store, contexts, tz, self.clock, self.rules, self.config.silent_after_min)
        self.dispatcher = Dispatcher(build_channels(self.config) if channels is None else channels, self.store,
                                     self.config)
        self._inbox: deque[IngestNotice] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._busy = False
        self._worker: threading.Thread | None = None
        self._checker: threading.Thread | None = None
        self.counts = {"notices": 0, "evaluated": 0, "raised": 0, "updated": 0, "errors": 0}
        self.jobs = jobs
        self.holder = f"{self.jobs.holder}:{uuid.uuid4().hex[:6]}"
        self._tick_s = min(self.config.silence_check_s, TICK_MAX_S)

    # -- ingest side ----------------------------------------------------------------------------------
    def on_ingest(self, notice: IngestNotice) -> None:
        """Ingest listener: queue and return (never blocks on the database or the network)."""
        if self._stop.is_set():
            return
        self._inbox.append(notice)
        if self._worker is None:
            self._start_worker()
        self._wake.set()

    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is None and not self._stop.is_set():
                self._worker = threading.Thread(target=self._run, name="alerts-evaluator", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        last_pass = -PASS_EVERY_S
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._busy = True
            try:
                if self._inbox:  # let the batches of a burst gather: each agent-day is judged once for them
                    self._stop.wait(max(GATHER_S, last_pass + PASS_EVERY_S - time.monotonic()))
                    last_pass = time.monotonic()
                self._wake.clear()
                self.evaluate_queued()
            except Exception:  # the evaluator thread must outlive any one bad notice
                self.counts["errors"] += 1
                log.exception("alert evaluation failed")
            finally:
                self._busy = False

    def evaluate_queued(self) -> list[Alert]:
        """Evaluate every agent-day touched by the queued notices; returns the alerts raised or updated."""
        touched: dict[tuple[str, str], list[int]] = {}
        while self._inbox:
            notice = self._inbox.popleft()
            self.counts["notices"] += 1
            for event, day in zip(notice.events, notice.days, strict=True):
                touched.setdefault((notice.agent_id, day), []).append(int(event["seq"]))
            if not notice.events and any(kind in INTEGRITY_KINDS for kind, _ in notice.integrity):
                touched.setdefault((notice.agent_id, self._today()), [])
        out: list[Alert] = []
        for (agent_id, day), seqs in touched.items():
            try:
                candidates = self.evaluator.evaluate(agent_id, day, seqs)
                self.counts["evaluated"] += 1
                out.extend(a for a in (self.record(c) for c in candidates) if a is not None)
            except Exception:  # one bad agent-day must not stop alerting for everyone else
                self.counts["errors"] += 1
                log.exception("alert evaluation of %s on %s failed", agent_id, day)
        return out

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock.time(), self.tz).date().isoformat()

    # -- raising and delivering -------------------------------------------------------------------------
    def record(self, candidate: Alert, repeats: bool = True) -> Alert | None:
        """Store a candidate (dedupe, rate limit) and queue its deliveries; the alert if it is news."""
        outcome = self.store.record(candidate, self.clock.time(), self.config.rate_limit_s,
                                    self.dispatcher.durable, self.config.base_url, repeats)
        if outcome.event is None:
            return None
        self.counts["raised" if outcome.event == "alert.raised" else "updated"] += 1
        alert = outcome.alert
        log.info("%s %s: %s %s (%s) value %s", outcome.event, alert.id, alert.agent_id, alert.rule,
                 alert.severity, alert.value)
        for delivery in outcome.deliveries:
            self.dispatcher.submit(delivery)
        if "wall" in self.dispatcher.lanes and alert.id is not None:
            uid = uuid.uuid4().hex
            payload = {"event": outcome.event, "delivery_id": uid, "alert": alert.to_dict(self.config.base_url)}
            self.dispatcher.submit(Delivery(0, uid, alert.id, "wall", outcome.event, payload))
        return alert

    def check_silence(self) -> list[Alert]:
        """One pass of the silence checker; returns the new "agent silent" alerts."""
        return [a for a in (self.record(c, repeats=False) for c in self.silence.check()) if a is not None]

    def _check_loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.jobs.register_process(OUTBOX_ROLE, self.holder, self._tick_s * 3 + 30)
                if self.jobs.run("silence_check", lambda: len(self.check_silence()),
                                 every_s=self.config.silence_check_s) == "failed":
                    self.counts["errors"] += 1
                self.jobs.run("alert_retries", lambda: self.sweep_outbox(time.time() - FRESH_S), every_s=SWEEP_S)
            except Exception:  # keep checking: the next pass may well succeed (database back, etc.)
                self.counts["errors"] += 1
                log.exception("silence check failed")

    def sweep_outbox(self, touched_before: float | None = None) -> dict[str, int]:
        """Offer again the pending deliveries no live process holds (see the module docstring)."""
        now = time.time()
        others = [h for h in self.jobs.live_processes(OUTBOX_ROLE) if h != self.holder]
        if others:
            orphaned = now - (self.config.retry_max_s + ORPHAN_GRACE_S)
            touched_before = orphaned if touched_before is None else min(touched_before, orphaned)
        resumed = dead = 0
        for delivery in self.store.pending(touched_before=touched_before):
            if self.dispatcher.holds(delivery.id) or not self.store.claim(delivery.id, now):
                continue
            if self.dispatcher.submit(delivery):
                resumed += 1
            else:
                dead += 1
                self.store.mark(delivery.id, "dead", delivery.attempts, "channel no longer configured", now)
        if resumed or dead:
            log.info("alerts: %d pending deliveries taken over (%d for channels not configured here)",
                     resumed + dead, dead)
        return {"resumed": resumed, "dead": dead}

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Inside ``serve``: the silence checker, and the outbox's pending deliveries offered again."""
        self.jobs.register_process(OUTBOX_ROLE, self.holder, self._tick_s * 3 + 30)
        swept: dict[str, int] = {}
        self.jobs.run("alert_retries", lambda: swept.update(self.sweep_outbox()) or swept)
        resumed = swept.get("resumed", 0)
        self._start_worker()
        if self._checker is None:  # silences (unless silent_after_min is 0) and stops in the shift
            self._checker = threading.Thread(target=self._check_loop, name="alerts-silence", daemon=True)
            self._checker.start()
        log.info("alerts: channels %s, %d pending deliveries resumed", ", ".join(self.dispatcher.lanes) or "none",
                 resumed)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until queued notices are evaluated and every lane is idle (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._inbox and not self._busy and self.dispatcher.idle():
                return True
            self._wake.set()
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._worker, self._checker):
            if thread is not None:
                thread.join(5)
        self.dispatcher.close()
        if self._checker is not None:
            try:
                self.jobs.unregister_process(OUTBOX_ROLE, self.holder)
            except StorageError as exc:  # the lease runs out by itself
                log.warning("could not drop the outbox lease: %s", exc.message)

    def purge(self, before_ts: float, held: Collection[str] = ()) -> dict[str, int]:
        """Retention: drop alerts (and their deliveries) raised before ``before_ts``, none of an agent in ``held``."""
        return self.store.purge(before_ts, held)

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "deliveries": self.store.counts(), "channels": self.dispatcher.stats()}

    # -- people (scope enforced and audited) ----------------------------------------------------------
    def list_for(self, who: Principal, state: str | None = None, agent_id: str | None = None,
                 day: str | None = None, since: float | None = None, limit: int = 100,
                 remote: str | None = None) -> list[dict[str, Any]]:
        if state not in (None, "", "open", "acked"):
            raise CollectorError("state must be open or acked", code="bad_request", status=400)
        filters = {"state": state, "agent": agent_id, "date": day}
        summary = " ".join(f"{k}={v}" for k, v in filters.items() if v) or "all"
        access = self.access
        access.refuse_unless(who, ALERT_ROLES, "read_alerts", summary, remote)
        teams = access.visible_teams(who)
        found = self.store.search(teams, state or None, agent_id, day, since, limit)
        access.audit_shown(who, "read_alerts", summary, (a.agent_id for a in found), remote)
        return [a.to_dict(self.config.base_url) for a in found]

    def ack_for(self, who: Principal, alert_id: int, note: str = "", remote: str | None = None) -> dict[str, Any]:
        alert = self.store.get(alert_id)
        allowed = who.role in ALERT_ROLES and who.can_see_team(alert.team)
        self.access.audit(who, "ack_alert", f"{alert_id} {alert.agent_id}", allowed, remote, alert.agent_id)
        if not allowed:
            raise Forbidden(f"alert {alert_id} is outside your scope")
        return self.store.ack(alert_id, who.name, note, self.clock.time()).to_dict(self.config.base_url)

    def dead_letters_for(self, who: Principal, remote: str | None = None) -> list[dict[str, Any]]:
        self.access.require_role(who, ("admin",), "read_dead_letters", "alerts", remote)
        return self.store.dead_letters()

    def retry_dead_letter_for(self, who: Principal, delivery_id: int, remote: str | None = None) -> dict[str, Any]:
        self.access.require_role(who, ("admin",), "retry_dead_letter", str(delivery_id), remote)
        delivery = self.store.requeue(delivery_id, time.time())
        if not self.dispatcher.submit(delivery):
            self.store.mark(delivery.id, "dead", 0, "channel no longer configured", time.time())
            raise CollectorError(f"channel {delivery.channel!r} is not configured any more", code="bad_request",
                                 status=409)
        return {"id": delivery.id, "delivery_id": delivery.uid, "channel": delivery.channel, "state": "pending"}
