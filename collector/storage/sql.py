"""SQL backends over SQLAlchemy Core: the queries SQLite (WAL, one writer) and PostgreSQL share."""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Column, ColumnElement, Connection, Engine, Table, and_, func, insert, or_, select, true, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from collector.agent_ids import id_key
from collector.errors import ConfigError, EnrollmentRefused, StorageError
from collector.integrity import AgentState, check_batch
from collector.storage import ingest_sql as q
from collector.storage import rollup_rows, schema
from collector.storage import tables as t
from collector.storage.base import (
    BatchWrite,
    IngestOutcome,
    QuarantinedEvent,
    RollupAccess,
    RollupHook,
    Store,
    StoredEvent,
)
from collector.storage.buffered_counts import BufferedCounts
from collector.storage.repositories import SqlRepositories
from collector.storage.shifts import DayShifts, ShiftQueries, day_shifts
from contract.masking import mask_obj

log = logging.getLogger(__name__)
_SEQ_CHUNK = 500  # event numbers looked up per statement (bound parameters stay far below every backend's limit)


class SqlRollupAccess(RollupAccess):
    """:class:`RollupAccess` on the ingest transaction's connection."""

    def __init__(self, conn: Connection, now: float, committed: list[Callable[[], None]] | None = None) -> None:
        self.conn = conn
        self.now = now
        self.committed: list[Callable[[], None]] = [] if committed is None else committed

    def load(self, agent_id: str, day: str) -> dict[str, Any] | None:
        found = rollup_rows.load(self.conn, agent_id, day)
        return None if found is None else found[0]

    def version(self, agent_id: str, day: str) -> int | None:
        """The stored version of the agent-day's state (:mod:`collector.storage.rollup_rows`), or None."""
        return rollup_rows.version(self.conn, agent_id, day)

    def shifts(self, agent_id: str, day: str) -> DayShifts:
        """The shift entries of the agent-day (:mod:`collector.storage.shifts`), in this transaction."""
        return day_shifts(self.conn, agent_id, day)

    def save(self, agent_id: str, day: str, state: dict[str, Any], existed: bool,
             features: dict[str, float] | None = None) -> None:
        expected = self.version(agent_id, day) if existed else None
        self.save_json(agent_id, day, orjson.dumps(state).decode(), expected, features)

    def save_json(self, agent_id: str, day: str, body: str, expected: int | None,
                  features: dict[str, float] | None = None) -> int:
        """Write the state as JSON over the row at version ``expected`` (None: no row yet); returns the
        row's new version."""
        feats = None if features is None else orjson.dumps(features).decode()
        return rollup_rows.save(self.conn, agent_id, day, body, feats, self.now, expected)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.committed.append(callback)


def run_committed(callbacks: list[Callable[[], None]]) -> None:
    """Call what an ingest transaction left for after its commit; one failing never stops the others."""
    for callback in callbacks:
        try:
            callback()
        except Exception:  # in-memory bookkeeping only: the batch itself is committed
            log.exception("after-commit callback %r failed", callback)


class SqlStore(SqlRepositories, ShiftQueries, Store):
    """Queries shared by every SQL backend (SQLAlchemy Core); subclasses own engines, locks and bulk writes.

    ``sqlite:`` -> :class:`collector.storage.sqlite.SqliteStore`,
    ``postgresql:`` -> :class:`collector.storage.postgres.PostgresStore`.
    """

    is_sqlite = False

    def __init__(self, url: str) -> None:
        self.url = url
        self._write_lock: threading.Lock | None = None
        self._rejections = BufferedCounts(self._write_rejections)  # see collector.storage.buffered_counts
        try:
            self.writer, self.reader = self._engines(url)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open database: {exc}") from exc

    @abstractmethod
    def _engines(self, url: str) -> tuple[Engine, Engine]:
        """The (writer, reader) engines; they may be one engine."""

    @abstractmethod
    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT construct (with ``on_conflict_do_update`` / ``on_conflict_do_nothing``)."""

    def _schema_lock(self, conn: Connection) -> None:
        """Serialise schema changes between processes (inside the write transaction)."""

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.writer.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise StorageError(f"database unavailable: {exc.orig}") from exc
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.reader.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise StorageError(f"database unavailable: {exc.orig}") from exc

    def create_schema(self) -> None:
        """A new database gets every migration; an existing one must already be at the newest revision."""
        with self._write() as conn:
            self._schema_lock(conn)
            rev = schema.current(conn)
            if rev is None:
                schema.upgrade(conn)
                return
        if rev == schema.HEAD:
            return
        if rev not in schema.revisions():
            raise ConfigError(f"the database schema is at revision {rev}, newer than this collector knows "
                              f"({schema.HEAD}): run the collector version that made it")
        raise ConfigError(f"the database schema is at revision {rev} and this collector needs {schema.HEAD}: "
                          "back the database up, then run `seatguard-collector migrate --data DIR`")

    def migrate(self) -> tuple[str | None, str]:
        """Upgrade the schema in place to the newest revision; returns (revision before, revision now)."""
        with self._write() as conn:
            self._schema_lock(conn)
            before = schema.current(conn)
            if before != schema.HEAD:
                schema.upgrade(conn)
        return before, schema.HEAD

    def schema_revision(self) -> str | None:
        with self._read() as conn:
            return schema.current(conn)

    def close(self) -> None:
        self._rejections.flush()
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()

    def _upsert(self, conn: Connection, table: Table, key: dict[str, Any], values: dict[str, Any],
                on_conflict: dict[str, Any] | None = None) -> None:
        """Insert a row, or update it (``on_conflict``, default ``values``) when its key exists."""
        stmt = self._insert(table).values(**key, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=on_conflict or values))

    # -- enrollment ---------------------------------------------------------------------------------
    def add_enroll_token(self, token_hash: str, team: str, role: str, shift: tuple[str, str] | None,
                         created_at: float, expires_at: float, name: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(insert(t.enroll_tokens).values(
                token_hash=token_hash, team=team, role=role, shift_start=shift[0] if shift else None,
                shift_end=shift[1] if shift else None, created_at=created_at, expires_at=expires_at, name=name))

    def enroll_tokens(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(t.enroll_tokens).order_by(t.enroll_tokens.c.created_at.desc()).limit(limit))]

    def enroll_agent(self, token_hash: str, agent: dict[str, Any], now: float) -> dict[str, Any]:
        key = id_key(agent["agent_id"])
        try:
            with self._write() as conn:
                tok = conn.execute(select(t.enroll_tokens).where(t.enroll_tokens.c.token_hash == token_hash)
                                   .with_for_update()).first()
                if tok is None:
                    raise EnrollmentRefused("unknown enrollment token", code="invalid_token", status=401)
                if tok.used_at is not None:
                    raise EnrollmentRefused("this enrollment token was already used", code="token_used", status=401)
                if tok.expires_at < now:
                    raise EnrollmentRefused("this enrollment token has expired", code="token_expired", status=401)
                if tok.name is not None and tok.name != agent["agent_id"]:
                    raise EnrollmentRefused(f"this token is for agent_id {tok.name!r}: enroll with --name {tok.name}",
                                            code="name_not_on_token", status=403)
                self._refuse_taken(conn, agent["agent_id"], key)
                row = {**agent, "id_key": key, "team": tok.team, "role": tok.role, "shift_start": tok.shift_start,
                       "shift_end": tok.shift_end, "enrolled_at": now, "last_seq": 0, "last_batch_seq": 0,
                       "events": 0}
                conn.execute(insert(t.agents).values(**row))
                conn.execute(update(t.enroll_tokens).where(t.enroll_tokens.c.token_hash == token_hash)
                             .values(used_at=now, agent_id=agent["agent_id"]))
                return row
        except IntegrityError as exc:  # a concurrent enrollment took the id or its key first
            with self._read() as conn:
                self._refuse_taken(conn, agent["agent_id"], key)
            raise StorageError(f"could not enroll {agent['agent_id']!r}: {exc.orig}") from exc

    @staticmethod
    def _refuse_taken(conn: Connection, agent_id: str, key: str) -> None:
        """Refuse an agent_id in use (409 agent_id_taken) or a look-alike of one (409 agent_id_lookalike)."""
        a = t.agents.c
        found = conn.execute(select(a.agent_id).where(or_(a.agent_id == agent_id, a.id_key == key))).first()
        if found is None:
            return
        if found[0] == agent_id:
            raise EnrollmentRefused(f"agent_id {agent_id!r} is already in use", code="agent_id_taken", status=409)
        raise EnrollmentRefused("name is a look-alike of an enrolled agent_id", code="agent_id_lookalike",
                                status=409)

    def id_key_taken(self, agent_id: str) -> bool:
        """Is ``agent_id`` or a look-alike of it enrolled? (one indexed lookup)"""
        with self._read() as conn:
            a = t.agents.c
            return conn.execute(select(a.agent_id).where(
                or_(a.agent_id == agent_id, a.id_key == id_key(agent_id)))).first() is not None

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(t.agents).where(t.agents.c.agent_id == agent_id)).first()
        return None if row is None else dict(row._mapping)

    def list_agents(self, teams: list[str] | None = None) -> list[dict[str, Any]]:
        query = select(t.agents).order_by(t.agents.c.agent_id)
        if teams is not None:
            query = query.where(t.agents.c.team.in_(teams))
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def revoke_agent(self, agent_id: str, now: float) -> bool:
        with self._write() as conn:
            res = conn.execute(update(t.agents).where(t.agents.c.agent_id == agent_id).values(revoked_at=now))
            return bool(res.rowcount)

    # -- ingest ---------------------------------------------------------------------------------------
    def batch_hash(self, agent_id: str, batch_seq: int) -> str | None:
        with self._read() as conn:
            row = conn.execute(select(t.batches.c.hash).where(
                and_(t.batches.c.agent_id == agent_id, t.batches.c.batch_seq == batch_seq))).first()
        return None if row is None else str(row[0])

    def ingest(self, batch: BatchWrite, rollup_hook: RollupHook | None = None) -> IngestOutcome:
        committed: list[Callable[[], None]] = []
        try:
            with self._write() as conn:
                outcome = self._ingest(conn, batch, rollup_hook, committed)
        except IntegrityError as exc:
            return self._settled(batch, exc)
        run_committed(committed)
        return outcome

    def _settled(self, batch: BatchWrite, exc: IntegrityError) -> IngestOutcome:
        """After a constraint refused the batch: it was stored meanwhile (duplicate or conflict), or fail."""
        stored = self.batch_hash(batch.agent_id, batch.batch_seq)
        if stored is None:
            raise StorageError(f"could not store batch {batch.batch_seq} of {batch.agent_id}: {exc.orig}") from exc
        return IngestOutcome("duplicate" if stored == batch.batch_hash else "conflict")

    def _ingest(self, conn: Connection, batch: BatchWrite, rollup_hook: RollupHook | None,
                committed: list[Callable[[], None]] | None = None) -> IngestOutcome:
        aid = batch.agent_id
        # The agent's row lock serialises every batch of one agent across threads and collector processes
        # (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the database write lock already does).
        agent = conn.execute(q.LOCK_AGENT, {"a": aid}).first()
        if agent is None or agent.revoked_at is not None:
            return IngestOutcome("revoked")  # agents are never deleted: no row is as good as revoked
        if batch.public_key is not None and agent.public_key != batch.public_key:
            return IngestOutcome("key_changed")
        hashes = {int(r[0]): str(r[1]) for r in conn.execute(q.BATCH_AND_PREVIOUS, {
            "a": aid, "s": batch.batch_seq, "p": batch.batch_seq - 1})}
        existing = hashes.get(batch.batch_seq)
        if existing is not None:
            return IngestOutcome("duplicate" if existing == batch.batch_hash else "conflict")
        state = AgentState(int(agent.last_seq), int(agent.last_batch_seq), agent.last_batch_hash)
        prev_hash = hashes.get(batch.batch_seq - 1)
        all_seqs = [e.seq for e in batch.events] + [q.seq for q in batch.quarantined if q.seq is not None]
        findings = check_batch(state, batch.batch_seq, batch.prev_batch_hash, prev_hash, all_seqs)
        findings.records.extend(batch.findings)
        findings.records = [(kind, mask_obj(detail)) for kind, detail in findings.records]  # hashes are the agent's
        conn.execute(q.INSERT_BATCH, {"a": aid, "s": batch.batch_seq, "h": batch.batch_hash, "at": batch.received_at,
                                      "n": len(batch.events) + len(batch.quarantined)})
        fresh = self._unseen(conn, aid, batch.events, state.last_seq)
        quarantined = list(batch.quarantined)
        stored = 0
        if fresh:
            fresh, stored = self._insert_events(conn, aid, fresh, quarantined)
        if rollup_hook is not None and (fresh or findings.records):
            refused = rollup_hook(SqlRollupAccess(conn, batch.received_at, committed), aid, fresh,
                                       findings.records)
            if refused:
                stored -= self._unstore(conn, aid, refused, quarantined)
                gone = {e.seq for e, _ in refused}
                fresh = [e for e in fresh if e.seq not in gone]
        duplicates = len(batch.events) - stored - (len(quarantined) - len(batch.quarantined))
        if duplicates:
            findings.add("duplicate_seq", count=duplicates, batch_seq=batch.batch_seq)
        if quarantined:
            conn.execute(insert(t.quarantine), [
                {"agent_id": aid, "batch_seq": batch.batch_seq, "received_at": batch.received_at,
                 "reason": q.reason, "raw": q.raw} for q in quarantined])
        if findings.records:
            conn.execute(insert(t.integrity), [
                {"agent_id": aid, "kind": kind, "detail": orjson.dumps(detail).decode(), "at": batch.received_at}
                for kind, detail in findings.records])
        new_last_seq = max([state.last_seq, *all_seqs])
        conn.execute(q.UPDATE_AGENT_BATCH if batch.batch_seq > state.last_batch_seq else q.UPDATE_AGENT, {
            "a": aid, "ls": new_last_seq, "at": batch.received_at, "st": stored, "s": batch.batch_seq,
            "h": batch.batch_hash})
        return IngestOutcome("stored", stored=stored, duplicates=duplicates,
                             quarantined=len(quarantined), integrity=findings.records)

    @staticmethod
    def _unstore(conn: Connection, agent_id: str, refused: list[tuple[StoredEvent, str]],
                 quarantined: list[QuarantinedEvent]) -> int:
        """Take events the rollups refused back out of ``events`` (same transaction) into quarantine."""
        removed = 0
        for e, reason in refused:
            res = conn.execute(t.events.delete().where(and_(
                t.events.c.agent_id == agent_id, t.events.c.seq == e.seq, t.events.c.day == e.day)))
            removed += int(res.rowcount or 0)
            quarantined.append(QuarantinedEvent(e.seq, reason, e.data.replace("\x00", "\\u0000")))
        return removed

    @staticmethod
    def _unseen(conn: Connection, agent_id: str, events: list[StoredEvent], last_seq: int) -> list[StoredEvent]:
        """The batch's events whose seq is neither stored already nor repeated earlier in the batch.

        Every stored seq is at most the agent's ``last_seq``, so a batch entirely above it (the usual
        case) needs no lookup. A batch whose numbers are dense (a re-sent stretch) reads their range; a
        sparse one (seqs 1 and 30,000: a signed batch may number its events anyhow) reads only its own
        numbers, so that it never reads the agent's whole history under the write lock.
        """
        if not events:
            return []
        wanted = sorted({e.seq for e in events if e.seq <= last_seq})
        have: set[int] = set()
        seq = t.events.c.seq
        if wanted and wanted[-1] - wanted[0] < 2 * len(wanted) + 64:
            have = {int(r[0]) for r in conn.execute(select(seq).where(
                and_(t.events.c.agent_id == agent_id, seq >= wanted[0], seq <= wanted[-1])))}
        elif wanted:
            for at in range(0, len(wanted), _SEQ_CHUNK):
                have.update(int(r[0]) for r in conn.execute(select(seq).where(
                    and_(t.events.c.agent_id == agent_id, seq.in_(wanted[at:at + _SEQ_CHUNK])))))
        kept = []
        for e in events:
            if e.seq not in have:
                have.add(e.seq)
                kept.append(e)
        return kept

    def _insert_events(self, conn: Connection, agent_id: str, events: list[StoredEvent],
                       quarantined: list[QuarantinedEvent]) -> tuple[list[StoredEvent], int]:
        """Write new events in bulk inside a SAVEPOINT; returns the events kept and the rows stored.

        Should the database refuse the bulk write, each event is retried in its own SAVEPOINT (still one
        transaction, no commit per event) and the ones it refuses join ``quarantined`` with the reason.
        """
        try:
            with conn.begin_nested():
                return events, self._bulk_insert(conn, agent_id, events)
        except (OperationalError, IntegrityError):
            raise  # locks, lost connections and constraint races are the batch's, not one event's
        except (DBAPIError, StorageError):
            log.warning("agent %s: bulk event write refused; retrying event by event", agent_id)
        kept, stored = [], 0
        for e in events:
            try:
                with conn.begin_nested():
                    n = self._insert_one(conn, agent_id, e)
                if n:
                    kept.append(e)
            except (OperationalError, IntegrityError):
                raise
            except (DBAPIError, StorageError) as exc:
                cause = exc.orig if isinstance(exc, DBAPIError) else exc
                reason = f"database refused the event: {type(cause).__name__}"
                quarantined.append(QuarantinedEvent(e.seq, reason, e.data.replace("\x00", "\\u0000")))
                continue
            stored += n
        return kept, stored

    def _insert_one(self, conn: Connection, agent_id: str, e: StoredEvent) -> int:
        """One event by the plain INSERT (not a backend's bulk path, such as PostgreSQL's COPY staging);
        a row already there is skipped (0), as the bulk paths skip it, not refused."""
        stmt = self._insert(t.events).values(agent_id=agent_id, seq=e.seq, ts=e.ts, ts_ms=e.ts_ms, day=e.day,
                                             kind=e.kind, data=e.data).on_conflict_do_nothing()
        return max(0, int(conn.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount or 0))

    def _bulk_insert(self, conn: Connection, agent_id: str, events: list[StoredEvent]) -> int:
        """Insert events in one statement; returns how many rows were stored."""
        conn.execute(insert(t.events), [
            {"agent_id": agent_id, "seq": e.seq, "ts": e.ts, "ts_ms": e.ts_ms, "day": e.day, "kind": e.kind,
             "data": e.data} for e in events])
        return len(events)

    def count_rejection(self, code: str) -> None:
        """Count a refused request, written with those of the last second (:mod:`.buffered_counts`)."""
        self._rejections.add(code)

    def _write_rejections(self, counts: dict[str, int]) -> None:
        with self._write() as conn:
            for code, n in sorted(counts.items()):
                self._upsert(conn, t.rejections, {"code": code}, {"count": n},
                             on_conflict={"count": t.rejections.c.count + n})

    # -- reading -----------------------------------------------------------------------------------------
    def stats(self, agent_id: str | None = None) -> dict[str, Any]:
        self._rejections.flush()
        with self._read() as conn:
            def count(table: Any, where: Any = None) -> int:
                q = select(func.count()).select_from(table)
                if where is not None:
                    q = q.where(where)
                return int(conn.execute(q).scalar_one())

            ev_where = t.events.c.agent_id == agent_id if agent_id else None
            q_where = t.quarantine.c.agent_id == agent_id if agent_id else None
            i_where = t.integrity.c.agent_id == agent_id if agent_id else None
            gaps: dict[str, int] = {}
            g = select(t.integrity.c.kind, func.count()).group_by(t.integrity.c.kind)
            if i_where is not None:
                g = g.where(i_where)
            for kind, n in conn.execute(g):
                gaps[str(kind)] = int(n)
            out: dict[str, Any] = {
                "events": count(t.events, ev_where),
                "agents": count(t.agents, t.agents.c.agent_id == agent_id if agent_id else None),
                "quarantined": count(t.quarantine, q_where),
                "batches": count(t.batches, t.batches.c.agent_id == agent_id if agent_id else None),
                "gaps": gaps,
                "rejections": {str(r[0]): int(r[1])
                               for r in conn.execute(select(t.rejections.c.code, t.rejections.c.count))},
            }
            if agent_id:
                row = conn.execute(select(t.agents).where(t.agents.c.agent_id == agent_id)).first()
                if row is not None:
                    out["agent"] = {"team": row.team, "last_seq": row.last_seq,
                                    "last_batch_seq": row.last_batch_seq, "revoked": row.revoked_at is not None}
        return out

    def timeline(self, agent_id: str, day: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(t.events.c.data).where(
                and_(t.events.c.agent_id == agent_id, t.events.c.day == day)
            ).order_by(t.events.c.ts_ms, t.events.c.seq))
            return [orjson.loads(r[0]) for r in rows]

    def quarantined(self, agent_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(t.quarantine).order_by(t.quarantine.c.id.desc()).limit(limit)
        if agent_id:
            q = q.where(t.quarantine.c.agent_id == agent_id)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def integrity_records(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        q = select(t.integrity).order_by(t.integrity.c.id)
        if agent_id:
            q = q.where(t.integrity.c.agent_id == agent_id)
        with self._read() as conn:
            return [{**dict(r._mapping), "detail": orjson.loads(r.detail)} for r in conn.execute(q)]

    def rollups_for_day(self, day: str) -> list[tuple[str, dict[str, Any]]]:
        with self._read() as conn:
            rows = conn.execute(select(t.rollups.c.agent_id, t.rollups.c.state).where(t.rollups.c.day == day)
                                .order_by(t.rollups.c.agent_id))
            return [(str(r[0]), orjson.loads(r[1])) for r in rows]

    def rollup_version(self, agent_id: str, day: str) -> int | None:
        """The committed version of the agent-day's rollup (:mod:`collector.storage.rollup_rows`), or None."""
        with self._read() as conn:
            return rollup_rows.version(conn, agent_id, day)

    def rollup_versions(self, first_day: str, last_day: str) -> dict[str, dict[str, int]]:
        """Per day in [first_day, last_day] with rollups, each agent's committed rollup version."""
        r = t.rollups.c
        out: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for day, agent_id, version in conn.execute(select(r.day, r.agent_id, r.version).where(
                    and_(r.day >= first_day, r.day <= last_day))):
                out.setdefault(str(day), {})[str(agent_id)] = int(version)
        return out

    def rollup_state(self, agent_id: str, day: str) -> dict[str, Any] | None:
        """The committed state of the agent-day's rollup, or None."""
        with self._read() as conn:
            found = rollup_rows.load(conn, agent_id, day)
        return None if found is None else dict(found[0])

    def feature_history(self, first_day: str, last_day: str) -> dict[str, list[dict[str, float]]]:
        """Stored features per agent for days in [first_day, last_day], oldest first."""
        out: dict[str, list[dict[str, float]]] = {}
        with self._read() as conn:
            rows = conn.execute(select(t.rollups.c.agent_id, t.rollups.c.features).where(
                and_(t.rollups.c.day >= first_day, t.rollups.c.day <= last_day, t.rollups.c.features.is_not(None))
            ).order_by(t.rollups.c.agent_id, t.rollups.c.day))
            for agent_id, feats in rows:
                out.setdefault(str(agent_id), []).append(orjson.loads(feats))
        return out

    def history_with_versions(self, first_day: str, last_day: str) -> tuple[
            dict[str, list[dict[str, float]]], dict[str, dict[str, int]]]:
        """Stored features per agent (oldest first) and each day's rollup versions, in one query."""
        r = t.rollups.c
        history: dict[str, list[dict[str, float]]] = {}
        versions: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            rows = conn.execute(select(r.agent_id, r.day, r.version, r.features).where(
                and_(r.day >= first_day, r.day <= last_day)).order_by(r.agent_id, r.day))
            for agent_id, day, version, feats in rows:
                versions.setdefault(str(day), {})[str(agent_id)] = int(version)
                if feats is not None:
                    history.setdefault(str(agent_id), []).append(orjson.loads(feats))
        return history, versions

    def rollups_without_features(self, first_day: str, last_day: str) -> list[tuple[str, str]]:
        r = t.rollups.c
        with self._read() as conn:
            rows = conn.execute(select(r.agent_id, r.day).where(
                and_(r.day >= first_day, r.day <= last_day, r.features.is_(None))).order_by(r.day, r.agent_id))
            return [(str(a), str(d)) for a, d in rows]

    def rollup_state_version(self, agent_id: str, day: str) -> tuple[dict[str, Any], int] | None:
        with self._read() as conn:
            return rollup_rows.load(conn, agent_id, day)

    def set_features(self, rows: list[tuple[str, str, int, dict[str, float]]]) -> int:
        r = t.rollups.c
        changed = 0
        if not rows:
            return 0
        with self._write() as conn:
            for agent_id, day, version, feats in rows:
                res = conn.execute(update(t.rollups).where(and_(r.agent_id == agent_id, r.day == day,
                                                                r.version == version))
                                   .values(features=orjson.dumps(feats).decode()))
                changed += int(res.rowcount or 0)
        return changed

    def merge_features(self, day: str, values: dict[str, dict[str, float]]) -> int:
        """Merge report-time figures (need-to-know across agents) into that day's stored rollup features;
        returns how many rows changed. Rows without stored features are left alone."""
        changed = 0
        with self._write() as conn:
            rows = conn.execute(select(t.rollups.c.agent_id, t.rollups.c.features).where(
                and_(t.rollups.c.day == day, t.rollups.c.features.is_not(None)))).all()
            for agent_id, feats in rows:
                extra = values.get(str(agent_id))
                if not extra:
                    continue
                merged = {**orjson.loads(feats), **extra}
                conn.execute(update(t.rollups).where(and_(t.rollups.c.agent_id == agent_id, t.rollups.c.day == day))
                             .values(features=orjson.dumps(merged).decode()))
                changed += 1
        return changed

    def purge(self, before_day: str, before_ts: float, kind_days: Mapping[str, str] | None = None,
              held: Collection[str] = ()) -> dict[str, int]:
        """Delete events, quarantined events, integrity records and rollups older than the cut-off (events
        of a kind in ``kind_days`` before that kind's later day), none of an agent in ``held``."""
        keep = sorted(set(held))
        events = self._purge_events(before_day, keep)
        with self._write() as conn:
            for kind, day in sorted((kind_days or {}).items()):
                if day > before_day:  # the days before before_day went with every kind
                    events += int(conn.execute(t.events.delete().where(and_(
                        t.events.c.kind == kind, t.events.c.day >= before_day, t.events.c.day < day,
                        _spared(t.events.c.agent_id, keep)))).rowcount or 0)
            out = {
                "quarantine": conn.execute(t.quarantine.delete().where(and_(
                    t.quarantine.c.received_at < before_ts, _spared(t.quarantine.c.agent_id, keep)))).rowcount,
                "integrity": conn.execute(t.integrity.delete().where(and_(
                    t.integrity.c.at < before_ts, _spared(t.integrity.c.agent_id, keep)))).rowcount,
                "rollups": conn.execute(t.rollups.delete().where(and_(
                    t.rollups.c.day < before_day, _spared(t.rollups.c.agent_id, keep)))).rowcount,
                "reports": conn.execute(t.reports.delete().where(t.reports.c.day < before_day)).rowcount,
                "shifts": conn.execute(t.shifts.delete().where(and_(
                    t.shifts.c.day < before_day, _spared(t.shifts.c.agent_id, keep)))).rowcount,
            }
        return {"events": events, **{k: int(v or 0) for k, v in out.items()}}

    def _purge_events(self, before_day: str, keep: list[str]) -> int:
        """Events of every kind of days before ``before_day``, but none of the agents in ``keep``."""
        with self._write() as conn:
            return int(conn.execute(t.events.delete().where(and_(
                t.events.c.day < before_day, _spared(t.events.c.agent_id, keep)))).rowcount or 0)

    def last_heartbeat(self, agent_id: str, before_seq: int, from_seq: int = 1) -> dict[str, Any] | None:
        e = t.events
        with self._read() as conn:
            row = conn.execute(select(e.c.data).where(and_(
                e.c.agent_id == agent_id, e.c.seq < before_seq, e.c.seq >= from_seq, e.c.kind == "agent.heartbeat"))
                .order_by(e.c.seq.desc()).limit(1)).first()
        return None if row is None else dict(orjson.loads(row[0]))

    def get_kv(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute(select(t.kv.c.value).where(t.kv.c.key == key)).first()
        return None if row is None else str(row[0])

    def set_kv(self, key: str, value: str) -> None:
        with self._write() as conn:
            self._upsert(conn, t.kv, {"key": key}, {"value": value})



def _spared(column: Column[Any], keep: list[str]) -> ColumnElement[bool]:
    """Rows of an agent not in ``keep`` (the agents under a legal hold)."""
    return column.not_in(keep) if keep else true()
