"""Scheduled jobs' runs (table ``job_runs``) and, where advisory locks are missing, their leases.

``job_runs`` keeps one row per run: the job's name, when it started and finished, the process
(host and pid) that ran it and the outcome (``running``, ``ok``, ``failed``). ``job_leases`` is the
SQLite stand-in for PostgreSQL's advisory lock (:mod:`collector.jobs` chooses): a row per job
naming the holder until ``expires``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from collector.storage import tables as t
from collector.storage.sql import SqlStore


class JobRuns:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def start(self, job: str, now: float, host: str, pid: int) -> int:
        with self.store._write() as conn:
            res = conn.execute(insert(t.job_runs).values(job=job, started=now, host=host, pid=pid,
                                                         outcome="running"))
            key = res.inserted_primary_key
        return int(key[0]) if key else 0

    def finish(self, run_id: int, now: float, outcome: str, detail: str | None) -> None:
        with self.store._write() as conn:
            conn.execute(update(t.job_runs).where(t.job_runs.c.id == run_id).values(
                finished=now, outcome=outcome, detail=None if detail is None else detail[:2000]))

    def last_ok_started(self, job: str) -> float | None:
        """When the newest successful run of ``job`` started (any process)."""
        jr = t.job_runs
        with self.store._read() as conn:
            found = conn.execute(select(func.max(jr.c.started)).where(and_(jr.c.job == job,
                                                                           jr.c.outcome == "ok"))).scalar()
        return None if found is None else float(found)

    def recent(self, limit: int = 50, job: str | None = None) -> list[dict[str, Any]]:
        jr = t.job_runs
        q = select(jr).order_by(jr.c.started.desc(), jr.c.id.desc()).limit(limit)
        if job:
            q = q.where(jr.c.job == job)
        with self.store._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per job: how many runs are recorded, the newest one's start, process and outcome."""
        jr = t.job_runs
        out: dict[str, dict[str, Any]] = {}
        with self.store._read() as conn:
            for job, runs in conn.execute(select(jr.c.job, func.count()).group_by(jr.c.job)):
                out[str(job)] = {"runs": int(runs)}
        for row in self.recent(limit=max(50, len(out) * 5)):
            entry = out.get(str(row["job"]))
            if entry is not None and "last_started" not in entry:
                entry.update(last_started=row["started"], last_finished=row["finished"],
                             last_outcome=row["outcome"], last_host=row["host"], last_pid=row["pid"])
        return out

    def purge(self, before_ts: float) -> int:
        with self.store._write() as conn:
            return int(conn.execute(delete(t.job_runs).where(t.job_runs.c.started < before_ts)).rowcount or 0)

    # -- leases (no advisory locks) ----------------------------------------------------------------------
    def take_lease(self, job: str, holder: str, now: float, ttl_s: float) -> bool:
        """Hold ``job`` until ``now + ttl_s`` unless someone else holds an unexpired lease."""
        jl = t.job_leases
        with self.store._write() as conn:
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
        with self.store._write() as conn:
            conn.execute(delete(jl).where(and_(jl.c.job == job, jl.c.holder == holder)))
