"""From events to sealed batches in the spool: the one path every event takes on the PC."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.errors import SpoolError, SpoolFull
from agent.identity import Identity
from agent.spool import AppendResult, Sealer, Spool
from contract import wire
from contract.envelope import SCHEMA_VERSION, format_ts

log = logging.getLogger(__name__)
SPOOL_FILE = "spool.db"


def open_spool(home: Path, config: AgentConfig, salvage: bool = True) -> Spool:
    return Spool(home / SPOOL_FILE, max_bytes=int(config.spool_max_mb * 1024 * 1024)).open(salvage)


def make_sealer(identity: Identity) -> Sealer:
    def seal(batch_seq: int, prev_hash: str, events: list[dict[str, Any]]) -> tuple[bytes, str]:
        sealed_at = format_ts(datetime.now(UTC))
        return wire.seal_batch(
            agent_id=identity.agent_id,
            batch_seq=batch_seq,
            prev_batch_hash=prev_hash,
            events=events,
            sealed_at=sealed_at,
            collector_key=identity.collector_key,  # read at each seal: a key rotation may switch it
            agent_key=identity.agent_key,
        )

    return seal


class BatchBuilder:
    """Collects live events and seals them into the spool by count or by age.

    Thread-safe: sensors call :meth:`emit` from their own threads. Events are readable only in
    memory, for at most ``batch_max_age_s``; what is on disk is sealed.
    """

    def __init__(self, identity: Identity, spool: Spool, config: AgentConfig,
                 on_sealed: threading.Event | None = None) -> None:
        self.identity = identity
        self.spool = spool
        self.max_events = config.batch_max_events
        self.max_age_s = config.batch_max_age_s
        self._seal = make_sealer(identity)
        self._lock = threading.Lock()
        self._buffer: list[dict[str, Any]] = []
        self._oldest = 0.0
        self._on_sealed = on_sealed
        self.lost_events = 0

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None:
        event = {
            "schema": SCHEMA_VERSION,
            "agent_id": self.identity.agent_id,
            "ts": format_ts(ts or datetime.now(UTC)),
            "kind": kind,
            **fields,
        }
        with self._lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.append(event)
            full = len(self._buffer) >= self.max_events
        if full:
            self.flush()

    def emit_blob(self, blob_id: str, data: bytes) -> None:
        """Seal a blob (a screenshot PNG) at once and keep it in the spool for the uploader."""
        body = wire.seal_blob(agent_id=self.identity.agent_id, blob_id=blob_id, data=data,
                              sealed_at=format_ts(datetime.now(UTC)), collector_key=self.identity.collector_key,
                              agent_key=self.identity.agent_key)
        try:
            self.spool.append_blob(blob_id, body)
        except SpoolError as exc:
            log.error("could not keep screenshot %s: %s", blob_id, exc)
            return
        if self._on_sealed is not None:
            self._on_sealed.set()

    def flush_if_old(self) -> None:
        with self._lock:
            due = bool(self._buffer) and time.monotonic() - self._oldest >= self.max_age_s
        if due:
            self.flush()

    def flush(self) -> AppendResult | None:
        with self._lock:
            events, self._buffer = self._buffer, []
        if not events:
            return None
        try:
            result = self.spool.append(events, self._seal)
        except SpoolError as exc:
            # SpoolFull already counted the events in the spool; other failures are counted here
            if not isinstance(exc, SpoolFull):
                self.lost_events += len(events)
                log.error("could not spool %d events: %s", len(events), exc)
            return None
        if self._on_sealed is not None:
            self._on_sealed.set()
        return result
