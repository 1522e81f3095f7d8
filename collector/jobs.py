"""Scheduled jobs that run once per cluster, whichever collector process gets there first.

:meth:`JobScheduler.run` takes the job's lock (``pg_try_advisory_lock`` on PostgreSQL; a lease row in
``job_leases`` on SQLite), checks under it that the job is still due (nobody ran it since ``since``,
or within ``every_s``; ``due()`` still holds), runs it and records the run in ``job_runs`` (job,
started, finished, host, pid, outcome). A process that finds the lock taken skips the run: another
one is doing it. ``seatguard-collector stats`` shows the jobs' runs (``jobs``).

Jobs scheduled this way: ``retention`` and ``daily_report`` (:class:`DailyJobs`), ``silence_check``
and ``alert_retries`` (:class:`collector.alerts.service.AlertService`).

:meth:`JobScheduler.register_process` / :meth:`JobScheduler.live_processes` keep a short lease per
running process under a role name (the alert outbox uses it to tell an orphaned delivery from one a
live process still holds).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, tzinfo
from typing import Any

import orjson

from collector.storage.base import Store

log = logging.getLogger(__name__)
LEASE_S = 600.0  # a SQLite job lease outlives any run; a process that died mid-run frees it after this
SLACK = 0.9  # a periodic job is due again after 90% of its period (two processes' clocks tick apart)


class JobScheduler:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs = store.job_runs
        self.host = socket.gethostname()[:200]
        self.pid = os.getpid()
        self.holder = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.counts = {"ran": 0, "failed": 0, "busy": 0, "not_due": 0}

    # -- running --------------------------------------------------------------------------------------
    def run(self, job: str, fn: Callable[[], Any], *, every_s: float | None = None, since: float | None = None,
            due: Callable[[], bool] | None = None) -> str | None:
        """Run ``fn`` as ``job`` unless another process holds the job or it is not due; the outcome
        (``ok``/``failed``) or None when skipped. ``fn``'s exceptions are logged and recorded, not raised."""
        with self._locked(job) as got:
            if not got:
                self.counts["busy"] += 1
                return None
            now = time.time()
            last = self.runs.last_ok_started(job)
            if (every_s is not None and last is not None and now - last < every_s * SLACK) \
                    or (since is not None and last is not None and last >= since) \
                    or (due is not None and not due()):
                self.counts["not_due"] += 1
                return None
            run_id = self.runs.start(job, now, self.host, self.pid)
            try:
                result = fn()
            except Exception as exc:  # recorded; the next period tries again
                self.counts["failed"] += 1
                log.exception("job %s failed", job)
                self.runs.finish(run_id, time.time(), "failed", f"{exc.__class__.__name__}: {exc}")
                return "failed"
            self.counts["ran"] += 1
            self.runs.finish(run_id, time.time(), "ok", None if result is None else _detail(result))
            return "ok"

    def _locked(self, job: str) -> AbstractContextManager[bool]:
        return self.runs.hold(job, self.holder, time.time(), LEASE_S)

    # -- live processes -------------------------------------------------------------------------------
    def register_process(self, role: str, holder: str, ttl_s: float) -> None:
        """Say that ``holder`` runs ``role`` for the next ``ttl_s`` seconds (refresh before it ends)."""
        self.runs.take_lease(_process_key(role, holder), holder, time.time(), ttl_s)

    def unregister_process(self, role: str, holder: str) -> None:
        self.runs.drop_lease(_process_key(role, holder), holder)

    def live_processes(self, role: str) -> list[str]:
        return self.runs.live_holders(f"{role}:", time.time())

    def stats(self) -> dict[str, Any]:
        return {"jobs": self.runs.summary(), "recent_runs": self.runs.recent(20)}


def _process_key(role: str, holder: str) -> str:
    """The lease's key (64 characters at most): the role and a digest of the holder, so that holders alike in
    their first characters (one host with a long name, many processes) never share one."""
    return f"{role}:{hashlib.sha256(holder.encode()).hexdigest()[:40]}"


def _detail(result: Any) -> str:
    try:
        return orjson.dumps(result, default=str).decode()[:2000]
    except TypeError:
        return str(result)[:2000]


class DailyJobs:
    """Inside ``serve``: once a day at ``report_time`` (collector's zone), retention (privacy rule 4) and
    yesterday's report, each once per cluster. Checked every ``tick_s`` seconds."""

    def __init__(self, jobs: JobScheduler, tz: tzinfo, report_time: str, purge: Callable[[datetime], Any],
                 build_report: Callable[[str], dict[str, Any]], get_report: Callable[[str], dict[str, Any] | None],
                 tick_s: float = 60.0) -> None:
        self.jobs = jobs
        self.tz = tz
        self.report_time = report_time
        self.purge = purge
        self.build_report = build_report
        self.get_report = get_report
        self.tick_s = tick_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="daily-jobs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)

    def tick(self, now: datetime | None = None) -> dict[str, str | None]:
        now = now or datetime.now(self.tz)
        hh, mm = (int(x) for x in self.report_time.split(":"))
        due = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        if now < due:
            return {}
        yesterday = (now.date() - timedelta(days=1)).isoformat()
        since = due.timestamp()
        return {
            "retention": self.jobs.run("retention", lambda: self.purge(now), since=since),
            "daily_report": self.jobs.run("daily_report", lambda: _summary(self.build_report(yesterday)),
                                          since=since, due=lambda: self.get_report(yesterday) is None),
        }

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.tick()
            except Exception:  # the database may be back at the next tick
                log.exception("daily jobs check failed")
            self.stop.wait(self.tick_s)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {"date": report.get("date"), "findings": len(report.get("findings") or [])}
