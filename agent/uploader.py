"""Ship spooled batches to the collector: peek -> send -> acknowledge only on a signed receipt.

* a 2xx whose receipt verifies and names exactly the batch sent (``stored`` or ``duplicate``) deletes it;
* a 4xx whose receipt verifies and says ``refused`` parks the batch with the collector's reason (shown by
  ``status``); it is never dropped silently and the uploader moves on to the next batch;
* an answer without a valid receipt for that batch (unsigned, forged, for another batch) is a failed
  upload: it is counted (``unsigned_answers`` in heartbeats and ``status``) and retried;
* a blob refused with 429 ``blob_quota`` or ``blob_rate`` (the collector's per-agent screenshot quota)
  is final for that blob: with a valid refusal receipt it is parked like any refused blob (``parked_blobs``
  in ``status``), so that one screenshot over the quota cannot hold up every upload behind it;
* a receipt signed by a key the agent does not know may follow a key rotation it missed (the PC was
  offline through the whole window): the agent learns the collector's keys again through the request
  anchored in its HPKE key (:mod:`agent.trust`) and checks the same answer once more;
* a key set in a verified answer (a key rotation) is taken only when signed by a trusted key; one that
  is not is refused and counted with the unsigned answers;
* other network errors, 408, 429 and 5xx are retried with full-jitter exponential backoff
  (``backoff_min_s`` to ``backoff_max_s``, 1 s to 60 s by default).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.errors import SpoolError
from agent.spool import Spool
from agent.transport import Reply, Transport, TransportError
from agent.trust import Trust
from contract.errors import ReceiptError
from contract.receipts import Receipt

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429})
BATCH_PATH = "/api/v1/batches"
BLOB_PATH = "/api/v1/blobs"
FINAL_BLOB_CODES = frozenset({"blob_quota", "blob_rate"})  # 429s that retrying the same blob cannot cure


@dataclass(frozen=True)
class Backoff:
    min_s: float = 1.0
    max_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_s, self.min_s * (2 ** min(attempt, 30)))
        return rng.uniform(self.min_s, max(self.min_s, ceiling))


class Uploader:
    def __init__(self, spool: Spool, transport: Transport, trust: Trust, backoff: Backoff | None = None,
                 seed: int | None = None, on_reply: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.spool = spool
        self.transport = transport
        self.trust = trust
        self.backoff = backoff or Backoff()
        self._rng = random.Random(seed)
        self._failures = 0
        self.sent_batches = 0
        self.on_reply = on_reply

    def step(self) -> float | None:
        """Try to send the oldest ready batch.

        Returns None when the spool is empty, 0.0 when something was delivered or parked, or the
        number of seconds to wait before the next try.
        """
        item = self.spool.peek()
        if not self.trust.ready and (item is not None or self.spool.peek_blob() is not None):
            return self._upgrade()
        if item is None:
            return self._step_blob()
        try:
            reply = self.transport.post(BATCH_PATH, item.body)
        except TransportError as exc:
            return self._retry(item.batch_seq, str(exc))
        if reply.status in RETRY_STATUSES or reply.status >= 500 or reply.status < 200:
            return self._retry(item.batch_seq, _reason(reply.status, reply.body))
        try:
            receipt = self._checked("batch", item.batch_seq, item.body, reply)
        except ReceiptError as exc:
            return self._unsigned(item.batch_seq, f"batch {item.batch_seq}", reply, exc)
        self._key_set(reply)
        if receipt.outcome != "refused":
            self.spool.ack(item.batch_seq)
            self._failures = 0
            self.sent_batches += 1
            if self.on_reply is not None:
                self.on_reply(reply.body)
            return 0.0
        reason = _reason(reply.status, reply.body)
        log.error("collector refused batch %d: %s; parked", item.batch_seq, reason)
        self.spool.park(item.batch_seq, reason)
        self._failures = 0
        return 0.0

    def _receipt(self, kind: str, ref: int | str, body: bytes, reply: Reply) -> Receipt:
        """The answer's verified receipt, consistent with its HTTP status; raises ReceiptError."""
        receipt = self.trust.receipt(kind, ref, body, reply.body)
        if (receipt.outcome == "refused") != (reply.status >= 300):
            raise ReceiptError("inconsistent", f"receipt says {receipt.outcome} in an HTTP {reply.status} answer")
        return receipt

    def _checked(self, kind: str, ref: int | str, body: bytes, reply: Reply) -> Receipt:
        """:meth:`_receipt`; on a receipt by an unknown key, learn the collector's keys again (proven by its
        HPKE key: a stand-in cannot answer that) and check the same answer once more."""
        try:
            return self._receipt(kind, ref, body, reply)
        except ReceiptError as exc:
            if exc.code != "unknown_key":
                raise
            try:
                self.trust.fetch(self.transport)
            except TransportError as fetch_exc:
                log.warning("could not learn the collector's keys again: %s", fetch_exc)
                raise exc from fetch_exc
            return self._receipt(kind, ref, body, reply)

    def _key_set(self, reply: Reply) -> None:
        """A key rotation announced in a verified answer: taken only when signed by a trusted key."""
        try:
            self.trust.note_key_set(reply.body)
        except ReceiptError as exc:
            self.spool.note_unsigned()
            log.error("key set in the collector's answer refused (%s): keeping the keys this agent trusts", exc)

    def _unsigned(self, batch_seq: int, what: str, reply: Reply, exc: ReceiptError) -> float:
        """An answer that proves nothing: count it and send the same envelope again later."""
        self.spool.note_unsigned()
        log.warning("answer to %s (HTTP %d) has no valid receipt (%s): not trusted", what, reply.status, exc)
        return self._retry(batch_seq, f"{what}: unsigned answer (HTTP {reply.status}, {exc.code})")

    def _upgrade(self) -> float:
        """First contact after an upgrade: learn the collector's signing keys (see :mod:`agent.trust`)."""
        try:
            self.trust.fetch(self.transport)
        except TransportError as exc:
            return self._retry(0, f"signing keys: {exc}")
        except ReceiptError as exc:
            self.spool.note_unsigned()
            return self._retry(0, f"signing keys: {exc}")
        self._failures = 0
        return 0.0

    def _safe_step(self) -> float | None:
        try:
            return self.step()
        except (SpoolError, sqlite3.Error, OSError) as exc:
            # e.g. the disk is full and the acknowledgement could not be written: the batch stays in
            # the spool, is sent again later and the collector answers "duplicate"
            log.error("spool unavailable to the uploader (%s); retrying", exc)
            delay = self.backoff.delay(self._failures, self._rng)
            self._failures += 1
            return delay

    def _step_blob(self) -> float | None:
        """Ship one sealed screenshot once no batch waits (events first: they are what reports need)."""
        blob = self.spool.peek_blob()
        if blob is None:
            return None
        blob_id, body = blob
        try:
            reply = self.transport.post(BLOB_PATH, body)
        except TransportError as exc:
            return self._retry(0, f"blob {blob_id}: {exc}")
        final = reply.status == 429 and _code(reply.body) in FINAL_BLOB_CODES
        if not final and (reply.status in RETRY_STATUSES or reply.status >= 500 or reply.status < 200):
            return self._retry(0, f"blob {blob_id}: {_reason(reply.status, reply.body)}")
        try:
            receipt = self._checked("blob", blob_id, body, reply)
        except ReceiptError as exc:
            return self._unsigned(0, f"blob {blob_id}", reply, exc)
        self._key_set(reply)
        if receipt.outcome != "refused":
            self.spool.ack_blob(blob_id)
            self._failures = 0
            return 0.0
        reason = _reason(reply.status, reply.body)
        log.error("collector refused blob %s: %s; parked", blob_id, reason)
        self.spool.park_blob(blob_id, reason)
        return 0.0

    def _retry(self, batch_seq: int, reason: str) -> float:
        delay = self.backoff.delay(self._failures, self._rng)
        self._failures += 1
        log.warning("upload of batch %d failed (%s); retrying in %.1f s", batch_seq, reason, delay)
        self.spool.note_failure(batch_seq, reason)
        return delay

    def run(self, stop: threading.Event, idle_wait_s: float = 1.0, wake: threading.Event | None = None) -> None:
        """Upload until ``stop`` is set; ``wake`` shortens the idle wait when new batches arrive."""
        while not stop.is_set():
            wait = self._safe_step()
            if wait == 0.0:
                continue
            timeout = idle_wait_s if wait is None else wait
            if wake is not None and wait is None:
                wake.wait(timeout)
                wake.clear()
            else:
                stop.wait(timeout)

    def drain(self, stop: threading.Event | None = None) -> bool:
        """Send until the spool has no ready batch; True when drained."""
        stop = stop or threading.Event()
        while not stop.is_set():
            wait = self._safe_step()
            if wait is None:
                return True
            if wait > 0:
                stop.wait(wait)
        return False


def _code(body: dict[str, object]) -> str:
    err = body.get("error")
    return str(err.get("code", "")) if isinstance(err, dict) else ""


def _reason(status: int, body: dict[str, object]) -> str:
    err = body.get("error")
    if isinstance(err, dict):
        return f"HTTP {status} {err.get('code', '?')}: {err.get('message', '')}"
    return f"HTTP {status}"
