"""Scheduled jobs' runs (table ``job_runs``), their locks, and the leases that say which processes live.

``job_runs`` keeps one row per run: the job's name, when it started and finished, the process
(host and pid) that ran it and the outcome (``running``, ``ok``, ``failed``). :meth:`JobRunRepo.hold`
is the job's cluster-wide lock: on PostgreSQL (:class:`PgJobRunRepo`) a session-level advisory
lock keyed per database, schema and job; elsewhere a row per job in ``job_leases`` naming the
holder until ``expires``. The same leases, under a role name, tell which processes are alive
(:meth:`JobRunRepo.live_holders`). When a job is due is :mod:`collector.jobs`'s to decide.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from collector.storage import tables as t
from collector.storage.connections import Connections


class JobRunRepo(ABC):
    @abstractmethod
    def start(self, job: str, now: float, host: str, pid: int) -> int:
        """Record a run as ``running``; returns its id."""

    @abstractmethod
    def finish(self, run_id: int, now: float, outcome: str, detail: str | None) -> None:
        """Record how the run ended (``detail``: at most 2000 characters are kept)."""

    @abstractmethod
    def last_ok_started(self, job: str) -> float | None:
        """When the newest successful run of ``job`` started (any process)."""

    @abstractmethod
    def recent(self, limit: int = 50, job: str | None = None) -> list[dict[str, Any]]:
        """Runs (of ``job`` only), newest first."""

    @abstractmethod
    def summary(self) -> dict[str, dict[str, Any]]:
        """Per job: how many runs are recorded, the newest one's start, process and outcome."""

    @abstractmethod
    def purge(self, before_ts: float) -> int:
        """Retention: drop runs started before ``before_ts``; returns how many."""

    @abstractmethod
    def take_lease(self, job: str, holder: str, now: float, ttl_s: float) -> bool:
        """Hold ``job`` until ``now + ttl_s`` unless someone else holds an unexpired lease."""

    @abstractmethod
    def drop_lease(self, job: str, holder: str) -> None: ...

    @abstractmethod
    def live_holders(self, prefix: str, now: float) -> list[str]:
        """The holders of unexpired leases whose name starts with ``prefix``."""

    @abstractmethod
    def hold(self, job: str, holder: str, now: float, ttl_s: float) -> AbstractContextManager[bool]:
        """The job's cluster-wide lock for the ``with`` block: True if this process got it, False if
        another one holds it (a lease lasts at most ``ttl_s``: a process that died frees it then)."""


class SqlJobRunRepo(JobRunRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def start(self, job: str, now: float, host: str, pid: int) -> int:
        with self.db._write() as conn:
            res = conn.execute(insert(t.job_runs).values(job=job, started=now, host=host, pid=pid,
                                                         outcome="running"))
            key = res.inserted_primary_key
        return int(key[0]) if key else 0

    def finish(self, run_id: int, now: float, outcome: str, detail: str | None) -> None:
        with self.db._write() as conn:
            conn.execute(update(t.job_runs).where(t.job_runs.c.id == run_id).values(
                finished=now, outcome=outcome, detail=None if detail is None else detail[:2000]))

    def last_ok_started(self, job: str) -> float | None:
        jr = t.job_runs
        with self.db._read() as conn:
            found = conn.execute(select(func.max(jr.c.started)).where(and_(jr.c.job == job,
                                                                           jr.c.outcome == "ok"))).scalar()
        return None if found is None else float(found)

    def recent(self, limit: int = 50, job: str | None = None) -> list[dict[str, Any]]:
        jr = t.job_runs
        q = select(jr).order_by(jr.c.started.desc(), jr.c.id.desc()).limit(limit)
        if job:
            q = q.where(jr.c.job == job)
        with self.db._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def summary(self) -> dict[str, dict[str, Any]]:
        jr = t.job_runs
        out: dict[str, dict[str, Any]] = {}
        with self.db._read() as conn:
            for job, runs in conn.execute(select(jr.c.job, func.count()).group_by(jr.c.job)):
                out[str(job)] = {"runs": int(runs)}
        for row in self.recent(limit=max(50, len(out) * 5)):
            entry = out.get(str(row["job"]))
            if entry is not None and "last_started" not in entry:
                entry.update(last_started=row["started"], last_finished=row["finished"],
                             last_outcome=row["outcome"], last_host=row["host"], last_pid=row["pid"])
        return out

    def purge(self, before_ts: float) -> int:
        with self.db._write() as conn:
            return int(conn.execute(delete(t.job_runs).where(t.job_runs.c.started < before_ts)).rowcount or 0)

    # -- leases --------------------------------------------------------------------------------------------
    def take_lease(self, job: str, holder: str, now: float, ttl_s: float) -> bool:
        jl = t.job_leases
        with self.db._write() as conn:
            res = conn.execute(update(jl).where(and_(jl.c.job == job, or_(jl.c.expires < now, jl.c.holder == holder)))
                               .values(holder=holder, expires=now + ttl_s))
            if res.rowcount:
                return True
            if conn.execute(select(jl.c.job).where(jl.c.job == job)).first() is not None:
                return False
            conn.execute(insert(jl).values(job=job, holder=holder, expires=now + ttl_s))
            return True

    def drop_lease(self, job: str, holder: str) -> None:
        jl = t.job_leases
        with self.db._write() as conn:
            conn.execute(delete(jl).where(and_(jl.c.job == job, jl.c.holder == holder)))

    def live_holders(self, prefix: str, now: float) -> list[str]:
        jl = t.job_leases
        with self.db._read() as conn:
            rows = conn.execute(select(jl.c.holder).where(and_(jl.c.job.startswith(prefix, autoescape=True),
                                                               jl.c.expires > now)))
            return [str(r[0]) for r in rows]

    @contextmanager
    def hold(self, job: str, holder: str, now: float, ttl_s: float) -> Iterator[bool]:
        if not self.take_lease(job, holder, now, ttl_s):
            yield False
            return
        try:
            yield True
        finally:
            self.drop_lease(job, holder)


class _Engine(Protocol):
    def connect(self) -> Connection: ...


class PgJobRunRepo(SqlJobRunRepo):
    """PostgreSQL: a job's lock is a session-level advisory lock, not a lease row."""

    def __init__(self, db: Connections, engine: _Engine) -> None:
        super().__init__(db)
        self.engine = engine
        self._scope: str | None = None

    @contextmanager
    def hold(self, job: str, holder: str, now: float, ttl_s: float) -> Iterator[bool]:
        """An advisory lock on a connection held for the run (freed with it, should the process die)."""
        key = self._key(job)
        conn = self.engine.connect()
        try:
            got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(select(func.pg_advisory_unlock(key)))
                    conn.commit()
        except BaseException:
            conn.invalidate()  # never hand a connection that may still hold the lock back to the pool
            raise
        finally:
            conn.close()

    def _key(self, job: str) -> int:
        """The lock's key: per database, schema and job."""
        if self._scope is None:
            with self.db._read() as conn:
                self._scope = f"{conn.execute(select(func.current_database())).scalar()}." \
                              f"{conn.execute(select(func.current_schema())).scalar()}"
        digest = hashlib.sha256(f"seatguard-job:{self._scope}:{job}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)
