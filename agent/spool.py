"""The agent's on-disk spool: sealed batches waiting for the collector's 2xx.

On-disk format (``FORMAT_VERSION`` 1), one SQLite file in WAL mode:

* ``meta(key, value)`` — format version, counters (next_seq, next_batch_seq, last_hash), drop
  counters, replay offsets, last upload outcome.
* ``batches(batch_seq PK, sealed_at, n_events, first_seq, last_seq, size, body, state, reason, attempts)``
  — ``body`` is the sealed wire envelope; nothing readable about activity is stored at rest.

A sidecar ``spool.hwm`` (JSON, atomically replaced) records the counters *before* each commit, so a
spool lost to corruption never makes the agent reuse a sequence number or re-ship a replayed line.
When the file is truncated or corrupted, :meth:`Spool.open` moves it aside, salvages every intact
batch row by row into a new file and counts the rest as lost.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import SpoolError, SpoolFull
from contract.sqlite_wal import switch_to_wal

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64
_COUNTERS = ("dropped_batches", "dropped_events", "lost_corrupt_batches", "lost_unstored_events",
             "unsigned_answers", "collector_changes")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
  batch_seq INTEGER PRIMARY KEY,
  sealed_at TEXT NOT NULL,
  n_events INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  size INTEGER NOT NULL,
  body BLOB NOT NULL,
  state TEXT NOT NULL DEFAULT 'ready',
  reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS blobs (
  blob_id TEXT PRIMARY KEY,
  created REAL NOT NULL,
  body BLOB NOT NULL,
  state TEXT NOT NULL DEFAULT 'ready',
  reason TEXT
);
"""
MAX_BLOBS = 50

Sealer = Callable[[int, str, list[Any]], tuple[bytes, str]]
"""(batch_seq, prev_batch_hash, events with seq) -> (envelope bytes, batch hash)."""


@dataclass(frozen=True)
class SpooledBatch:
    batch_seq: int
    n_events: int
    body: bytes
    attempts: int


@dataclass(frozen=True)
class AppendResult:
    batch_seq: int
    first_seq: int
    last_seq: int
    dropped_batches: int


def _is_disk_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError | OSError) and (
        "full" in text or "disk i/o" in text or "no space" in text or "file too large" in text
    )


def _intact(row: tuple[Any, ...], batch_seq: int) -> bool:
    """Whether a row read from a damaged spool can be shipped: damage may hit any column, not only the
    body, and a row with, say, a garbled state would otherwise be neither shipped nor counted lost."""
    seq, _sealed_at, n_events, first_seq, last_seq, size, body, state, _reason, attempts = row
    if seq != batch_seq or state not in ("ready", "parked"):
        return False
    if not all(isinstance(v, int) and v >= 0 for v in (n_events, first_seq, last_seq, size, attempts)):
        return False
    if not isinstance(body, bytes) or len(body) != size:
        return False
    try:
        envelope = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8 at all
        return False
    return isinstance(envelope, dict) and envelope.get("batch_seq", batch_seq) == batch_seq


class Spool:
    """A bounded SQLite queue of sealed batches, safe for one producer and one uploader thread."""

    def __init__(self, path: Path, max_bytes: int = 512 * 1024 * 1024, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.busy_timeout_s = busy_timeout_s  # how long to wait for another process holding the file
        self.hwm_path = self.path.with_suffix(".hwm")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._pending_lost = 0
        self.salvage_report: dict[str, int] | None = None

    # -- opening, corruption and salvage ------------------------------------------------------
    def open(self, salvage: bool = True) -> Spool:
        """Open (or create) the spool; a damaged file is salvaged unless ``salvage`` is false (another
        process, the running agent, owns it), in which case :class:`SpoolError` says so."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._check_healthy()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                # busy is not damage: another process held the file for longer than the busy timeout
                self._close_all()
                raise SpoolError(f"spool {self.path} is busy ({exc}); try again") from exc
            if not salvage:
                self._close_all()
                raise SpoolError(f"spool {self.path} is damaged ({exc}); the agent salvages it when it starts") from exc
            log.error("spool %s is damaged (%s); salvaging intact batches", self.path, exc)
            self._close_all()
            self._salvage()
        self._init_counters()
        return self

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
            try:
                switch_to_wal(conn, self.busy_timeout_s)
                conn.execute("PRAGMA synchronous=FULL")
                # keep the write-ahead log small on a PC's disk: checkpoint every ~1 MB and truncate after
                conn.execute("PRAGMA wal_autocheckpoint=256")
                conn.execute("PRAGMA journal_size_limit=1048576")
                # appended at one end and read at the other: a big page cache buys nothing, and would grow
                # each connection by up to 2 MB while the collector is away and the spool fills
                conn.execute("PRAGMA cache_size=-256")
            except sqlite3.Error:
                conn.close()
                raise
            self._local.conn = conn
            conns = getattr(self, "_all_conns", [])
            conns.append(conn)
            self._all_conns = conns
        return conn

    def _close_all(self) -> None:
        for conn in getattr(self, "_all_conns", []):
            try:
                conn.close()
            except sqlite3.Error:
                log.debug("closing a spool connection failed", exc_info=True)
        self._all_conns = []
        self._local = threading.local()

    def close(self) -> None:
        self._close_all()

    def _check_healthy(self) -> None:
        conn = self._connect()
        conn.executescript(_SCHEMA)
        row = conn.execute("PRAGMA quick_check").fetchone()
        if not row or row[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")
        version = self._meta_get(conn, "format_version")
        if version is None:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
        elif int(version) != FORMAT_VERSION:
            raise SpoolError(f"spool format {version} is not supported (expected {FORMAT_VERSION})")
        conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM batches").fetchone()

    def _salvage(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        hwm = self._read_hwm()
        rows, lost = self._read_intact_rows(aside, hwm)
        conn = self._connect()
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
        with self._txn(conn):
            conn.executemany(
                "INSERT OR IGNORE INTO batches(batch_seq, sealed_at, n_events, first_seq, last_seq, size, body,"
                " state, reason, attempts) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            for key in ("next_seq", "next_batch_seq", "last_hash"):
                if key in hwm:
                    self._meta_set(conn, key, str(hwm[key]))
            for key, value in hwm.items():
                if key.startswith("replay:"):
                    self._meta_set(conn, key, str(value))
            if rows:
                last = max(rows, key=lambda r: r[0])
                nb = max(int(hwm.get("next_batch_seq", 1)), last[0] + 1)
                ns = max(int(hwm.get("next_seq", 1)), last[4] + 1)
                self._meta_set(conn, "next_batch_seq", str(nb))
                self._meta_set(conn, "next_seq", str(ns))
            prior_lost = int(hwm.get("lost_corrupt_batches", 0))
            self._meta_set(conn, "lost_corrupt_batches", str(prior_lost + lost))
        self.salvage_report = {"recovered_batches": len(rows), "lost_batches": lost}
        log.warning("spool salvage: %d intact batches recovered, %d lost", len(rows), lost)

    @staticmethod
    def _read_intact_rows(path: Path, hwm: dict[str, Any]) -> tuple[list[tuple[Any, ...]], int]:
        rows: list[tuple[Any, ...]] = []
        # everything at or below acked_upto / dropped_upto is gone on purpose, except parked batches
        lo = max(int(hwm.get("acked_upto", 0)), int(hwm.get("dropped_upto", 0))) + 1
        hi = int(hwm.get("next_batch_seq", 1)) - 1
        wanted = sorted({int(x) for x in hwm.get("parked", []) if int(x) < lo} | set(range(lo, hi + 1)))
        try:
            src = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
            # a truncated file is "corrupt" as a whole unless the schema check is relaxed
            src.execute("PRAGMA writable_schema=ON")
        except sqlite3.Error:
            return rows, len(wanted)
        lost = 0
        with src:
            for batch_seq in wanted:
                try:
                    row = src.execute(
                        "SELECT batch_seq, sealed_at, n_events, first_seq, last_seq, size, body, state, reason,"
                        " attempts FROM batches WHERE batch_seq = ?",
                        (batch_seq,),
                    ).fetchone()
                except sqlite3.Error:
                    row = None
                if row is None or not _intact(row, batch_seq):
                    lost += 1  # it was never acknowledged or dropped, so its absence is damage
                    continue
                rows.append(tuple(row))
        src.close()
        return rows, lost

    # -- counters ----------------------------------------------------------------------------------
    @staticmethod
    def _meta_get(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _meta_set(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                     (key, value))

    def _init_counters(self) -> None:
        conn = self._connect()
        hwm = self._read_hwm()
        with self._txn(conn):
            for key, default in (("next_seq", 1), ("next_batch_seq", 1)):
                current = int(self._meta_get(conn, key) or default)
                self._meta_set(conn, key, str(max(current, default)))
            if self._meta_get(conn, "last_hash") is None:
                self._meta_set(conn, "last_hash", str(hwm.get("last_hash", GENESIS_HASH)))
            for key in _COUNTERS:
                if self._meta_get(conn, key) is None:
                    self._meta_set(conn, key, "0")

    def _read_hwm(self) -> dict[str, Any]:
        try:
            data = json.loads(self.hwm_path.read_bytes())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):  # ValueError: not JSON, or not even UTF-8 (a damaged file)
            return {}

    def _hwm_update(self, **changes: Any) -> None:
        hwm = self._read_hwm()
        hwm.update(changes)
        try:
            self._write_hwm(hwm)
        except OSError:
            log.warning("could not update %s (disk full?)", self.hwm_path)

    def _write_hwm(self, data: dict[str, Any]) -> None:
        tmp = self.hwm_path.with_suffix(".hwm.tmp")
        tmp.write_bytes(json.dumps(data).encode())
        os.replace(tmp, self.hwm_path)

    @contextmanager
    def _txn(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            # also when COMMIT itself fails (e.g. SQLITE_FULL leaves the transaction open): never keep
            # the write lock, or every other writer of the spool would wait on it forever
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.warning("rollback of a failed spool transaction failed", exc_info=True)
            raise

    # -- producer side -------------------------------------------------------------------------------
    def append(self, events: list[Any], seal: Sealer, meta: dict[str, str] | None = None,
               count_lost: bool = True) -> AppendResult:
        """Number the events, seal them as the next batch and store it, in one transaction.

        Only JSON objects get a ``seq``; anything else (a recorded line that is not an object) travels
        as it is so that the collector can quarantine it with a reason. ``meta`` (e.g. a replay offset)
        is committed atomically with the batch. On a full disk :class:`SpoolFull` is raised, nothing
        half-written remains, and the events are counted as lost unless ``count_lost`` is false (a
        replay keeps its place in the file instead).
        """
        if not events:
            raise SpoolError("refusing to spool an empty batch")
        with self._write_lock:
            conn = self._connect()
            try:
                return self._append_locked(conn, events, seal, meta or {})
            except (sqlite3.OperationalError, OSError) as exc:
                if _is_disk_full(exc):
                    if count_lost:
                        self._pending_lost += len(events)
                    log.error("spool disk full: %d events could not be kept", len(events))
                    raise SpoolFull(str(exc)) from exc
                raise SpoolError(f"spool write failed: {exc}") from exc

    def _append_locked(
        self, conn: sqlite3.Connection, events: list[Any], seal: Sealer, meta: dict[str, str]
    ) -> AppendResult:
        with self._txn(conn):
            next_seq = int(self._meta_get(conn, "next_seq") or 1)
            batch_seq = int(self._meta_get(conn, "next_batch_seq") or 1)
            prev_hash = self._meta_get(conn, "last_hash") or GENESIS_HASH
            numbered: list[Any] = []
            seq = next_seq
            for event in events:
                if isinstance(event, dict):
                    numbered.append({**event, "seq": seq})
                    seq += 1
                else:
                    numbered.append(event)
            body, batch_hash = seal(batch_seq, prev_hash, numbered)
            last_seq = seq - 1
            hwm = self._read_hwm()
            hwm.update({"next_seq": last_seq + 1, "next_batch_seq": batch_seq + 1, "last_hash": batch_hash})
            hwm.update(meta)
            self._write_hwm(hwm)
            conn.execute(
                "INSERT INTO batches(batch_seq, sealed_at, n_events, first_seq, last_seq, size, body)"
                " VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?, ?, ?, ?, ?)",
                (batch_seq, len(events), next_seq, last_seq, len(body), body),
            )
            self._meta_set(conn, "next_seq", str(last_seq + 1))
            self._meta_set(conn, "next_batch_seq", str(batch_seq + 1))
            self._meta_set(conn, "last_hash", batch_hash)
            for key, value in meta.items():
                self._meta_set(conn, key, value)
            if self._pending_lost:
                self._bump(conn, "lost_unstored_events", self._pending_lost)
                self._pending_lost = 0
            dropped = self._enforce_limit(conn)
        return AppendResult(batch_seq, next_seq, last_seq, dropped)

    def _bump(self, conn: sqlite3.Connection, key: str, by: int) -> None:
        self._meta_set(conn, key, str(int(self._meta_get(conn, key) or 0) + by))

    def _enforce_limit(self, conn: sqlite3.Connection) -> int:
        total = int(conn.execute("SELECT coalesce(sum(size), 0) FROM batches").fetchone()[0])
        dropped = 0
        while total > self.max_bytes:
            row = conn.execute("SELECT batch_seq, size, n_events FROM batches ORDER BY batch_seq LIMIT 1").fetchone()
            if row is None:
                break
            conn.execute("DELETE FROM batches WHERE batch_seq = ?", (row[0],))
            self._bump(conn, "dropped_batches", 1)
            self._bump(conn, "dropped_events", int(row[2]))
            log.warning("spool full (limit %d bytes): dropped oldest batch %d (%d events)",
                        self.max_bytes, row[0], row[2])
            self._hwm_update(dropped_upto=int(row[0]))
            total -= int(row[1])
            dropped += 1
        return dropped

    def get_meta(self, key: str) -> str | None:
        return self._meta_get(self._connect(), key)

    def set_meta(self, key: str, value: str) -> None:
        with self._write_lock:
            conn = self._connect()
            with self._txn(conn):
                self._meta_set(conn, key, value)

    # -- uploader side -------------------------------------------------------------------------------
    def peek(self) -> SpooledBatch | None:
        row = self._connect().execute(
            "SELECT batch_seq, n_events, body, attempts FROM batches WHERE state = 'ready' ORDER BY batch_seq LIMIT 1"
        ).fetchone()
        return None if row is None else SpooledBatch(int(row[0]), int(row[1]), bytes(row[2]), int(row[3]))

    def ack(self, batch_seq: int) -> None:
        """Forget a batch after the collector's 2xx.

        The acknowledgement is committed without waiting for fsync: should it be lost to a power cut,
        the batch is simply sent again and the collector answers "duplicate".
        """
        with self._write_lock:
            conn = self._connect()
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._txn(conn):
                    conn.execute("DELETE FROM batches WHERE batch_seq = ?", (batch_seq,))
                    self._meta_set(conn, "last_upload_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                    self._meta_set(conn, "last_upload_status", "ok")
                    acked = int(self._meta_get(conn, "acked_upto") or 0)
                    if batch_seq > acked:
                        self._meta_set(conn, "acked_upto", str(batch_seq))
            finally:
                conn.execute("PRAGMA synchronous=FULL")
            hwm = self._read_hwm()
            changes: dict[str, Any] = {}
            if batch_seq > int(hwm.get("acked_upto", 0)):
                changes["acked_upto"] = batch_seq
            if batch_seq in hwm.get("parked", []):
                changes["parked"] = [x for x in hwm["parked"] if x != batch_seq]
            if changes:
                self._hwm_update(**changes)

    def park(self, batch_seq: int, reason: str) -> None:
        """Keep a batch the collector refused (4xx) aside with the reason; it is never dropped silently."""
        with self._write_lock:
            conn = self._connect()
            with self._txn(conn):
                conn.execute(
                    "UPDATE batches SET state='parked', reason=?, attempts=attempts+1 WHERE batch_seq=?",
                    (reason[:500], batch_seq),
                )
                self._meta_set(conn, "last_upload_status", f"parked batch {batch_seq}: {reason[:200]}")
            parked = [int(x) for x in self._read_hwm().get("parked", [])][-1000:]
            self._hwm_update(parked=sorted({*parked, batch_seq}))

    def note_failure(self, batch_seq: int, reason: str) -> None:
        with self._write_lock:
            conn = self._connect()
            try:
                with self._txn(conn):
                    conn.execute("UPDATE batches SET attempts=attempts+1 WHERE batch_seq=?", (batch_seq,))
                    self._meta_set(conn, "last_upload_status", f"retrying: {reason[:200]}")
            except sqlite3.OperationalError:
                log.debug("could not record upload failure", exc_info=True)

    def note_unsigned(self) -> None:
        """Count one collector answer that carried no valid receipt (kept across restarts)."""
        with self._write_lock:
            conn = self._connect()
            try:
                with self._txn(conn):
                    self._bump(conn, "unsigned_answers", 1)
            except sqlite3.OperationalError:
                log.warning("could not count an unsigned answer", exc_info=True)

    def note_collector(self, fingerprint: str, enrolled: str = "") -> bool:
        """Remember which collector (URL and key) this spool ships to; True, and counted in
        ``collector_changes``, when it is another one than last time (at the first start: than at enrollment,
        ``enrolled``, when the enrollment record names it)."""
        with self._write_lock:
            conn = self._connect()
            with self._txn(conn):
                before = self._meta_get(conn, "collector_fingerprint") or enrolled or None
                if before == fingerprint:
                    return False
                self._meta_set(conn, "collector_fingerprint", fingerprint)
                if before is None:
                    return False
                self._bump(conn, "collector_changes", 1)
                return True

    def unpark_all(self) -> int:
        with self._write_lock:
            conn = self._connect()
            with self._txn(conn):
                cur = conn.execute("UPDATE batches SET state='ready', reason=NULL WHERE state='parked'")
                return int(cur.rowcount)

    # -- blobs (sealed screenshots) --------------------------------------------------------------------
    def append_blob(self, blob_id: str, body: bytes) -> None:
        """Keep a sealed blob; beyond MAX_BLOBS the oldest ready one is dropped and counted."""
        with self._write_lock:
            conn = self._connect()
            try:
                with self._txn(conn):
                    conn.execute("INSERT OR IGNORE INTO blobs(blob_id, created, body) VALUES (?, ?, ?)",
                                 (blob_id, time.time(), body))
                    extra = int(conn.execute("SELECT count(*) FROM blobs").fetchone()[0]) - MAX_BLOBS
                    if extra > 0:
                        conn.execute("DELETE FROM blobs WHERE blob_id IN (SELECT blob_id FROM blobs"
                                     " WHERE state='ready' ORDER BY created LIMIT ?)", (extra,))
                        self._bump(conn, "dropped_blobs", extra)
            except (sqlite3.OperationalError, OSError) as exc:
                raise SpoolFull(str(exc)) if _is_disk_full(exc) else SpoolError(str(exc)) from exc

    def peek_blob(self) -> tuple[str, bytes] | None:
        row = self._connect().execute(
            "SELECT blob_id, body FROM blobs WHERE state='ready' ORDER BY created LIMIT 1").fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def ack_blob(self, blob_id: str) -> None:
        with self._write_lock:
            conn = self._connect()
            with self._txn(conn):
                conn.execute("DELETE FROM blobs WHERE blob_id = ?", (blob_id,))

    def park_blob(self, blob_id: str, reason: str) -> None:
        with self._write_lock:
            conn = self._connect()
            with self._txn(conn):
                conn.execute("UPDATE blobs SET state='parked', reason=? WHERE blob_id=?", (reason[:500], blob_id))

    # -- reporting -------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        conn = self._connect()
        ready = conn.execute(
            "SELECT count(*), coalesce(sum(n_events),0), coalesce(sum(size),0) FROM batches WHERE state='ready'"
        ).fetchone()
        parked = conn.execute(
            "SELECT batch_seq, n_events, reason FROM batches WHERE state='parked' ORDER BY batch_seq LIMIT 20"
        ).fetchall()
        n_parked = conn.execute("SELECT count(*) FROM batches WHERE state='parked'").fetchone()[0]
        out: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "depth_batches": int(ready[0]),
            "depth_events": int(ready[1]),
            "bytes": int(ready[2]),
            "max_bytes": self.max_bytes,
            "parked_batches": int(n_parked),
            "parked": [{"batch_seq": r[0], "events": r[1], "reason": r[2]} for r in parked],
            "next_seq": int(self._meta_get(conn, "next_seq") or 1),
            "next_batch_seq": int(self._meta_get(conn, "next_batch_seq") or 1),
            "last_upload_at": self._meta_get(conn, "last_upload_at"),
            "last_upload_status": self._meta_get(conn, "last_upload_status"),
        }
        for key in _COUNTERS:
            out[key] = int(self._meta_get(conn, key) or 0)
        blobs = conn.execute("SELECT count(*), coalesce(sum(state='parked'), 0) FROM blobs").fetchone()
        out["blobs"] = int(blobs[0])
        out["parked_blobs"] = int(blobs[1])
        out["dropped_blobs"] = int(self._meta_get(conn, "dropped_blobs") or 0)
        out["lost_unstored_events"] += self._pending_lost
        out["dropped_total"] = out["dropped_events"] + out["lost_unstored_events"]
        return out
