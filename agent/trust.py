"""The collector signing keys an agent trusts, and how an agent enrolled before signed answers gets them.

New agents receive the collector's signing keys in the enrollment answer. An agent enrolled before
signed answers existed has only the collector's HPKE key in its enrollment record; before its first
upload it makes one upgrade request anchored in that key (no trust on first use): it seals a fresh
random nonce to the collector's HPKE key and signs it with its own key. Only the real collector can
open the nonce, and it answers its signing keys with ``proof = HMAC-SHA256(nonce, keys)``; a stand-in
server cannot compute the proof, so its keys are refused and the batches stay in the spool.

**Key rotation.** When the collector's keys are rotated (``seatguard-collector keys rotate``) its answers
carry a signed *key set* (``key_set``)::

    {"v": 1, "serial": 2, "signing_keys": {"<old id>": "<b64>", "<new id>": "<b64>"},
     "retire": {"<old id>": "2026-12-17T09:00:00Z"}, "hpke_key": "<b64 X25519>", "seal_from": "<time>",
     "key_id": "<id of the key that signed it>", "sig": "<base64 Ed25519>"}

The agent takes it only when it verifies with a signing key it already trusts and its serial is not
older than the one it holds (:meth:`Trust.note_key_set`): a stand-in server cannot inject a key. It then
trusts exactly ``signing_keys``, each until its ``retire`` time, and seals new batches and blobs to
``hpke_key`` from ``seal_from`` on; batches already sealed stay as they are (the collector keeps old HPKE
keys to open them). An agent that was offline through the whole window meets receipts signed by a key
it does not know: it makes the upgrade request above once more, anchored in the HPKE key it seals to, and
learns the new keys from the proven answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.identity import Identity, save_key_set, save_signing_keys
from agent.transport import Transport, TransportError
from contract import wire
from contract.envelope import format_ts
from contract.errors import ReceiptError
from contract.key_set import KeySet, keys_proof, parse_keys, verify_key_set
from contract.receipts import Receipt, receipt_in, verify_receipt

log = logging.getLogger(__name__)
KEYS_PATH = "/api/v1/signing-keys"


class Trust:
    """The signing keys this agent checks answers with (held in its enrollment record)."""

    def __init__(self, home: Path | None, identity: Identity) -> None:
        self.home = home
        self.identity = identity
        self._keys: dict[str, Ed25519PublicKey] = parse_keys(identity.signing_keys) if identity.signing_keys else {}
        self.key_set: KeySet | None = None
        self.refused_key_sets = 0
        if identity.key_set is not None:
            try:  # checked with every stored key: the one that signed it may be past its retire time now
                self._install(verify_key_set(identity.key_set, self._keys))
            except ReceiptError as exc:
                log.error("the stored key set does not verify (%s): sealing to the enrolled collector key", exc)

    @property
    def ready(self) -> bool:
        return bool(self._keys)

    @property
    def keys(self) -> dict[str, Ed25519PublicKey]:
        """The signing keys trusted now: a rotated-out key is dropped at its retire time."""
        retire = self.key_set.retire if self.key_set is not None else {}
        now = time.time()
        return {kid: key for kid, key in self._keys.items() if kid not in retire or now < retire[kid]}

    @property
    def stored_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every signing key of the enrollment record, retired or not (what the stored policy is checked with
        at a start: it was verified when it arrived)."""
        return dict(self._keys)

    def describe(self) -> list[str]:
        """The trusted signing keys for ``status``: ``id`` or ``id (until <time>)``."""
        retire = self.key_set.retire if self.key_set is not None else {}
        return [kid + (f" (until {format_ts(datetime.fromtimestamp(retire[kid], UTC))})" if kid in retire else "")
                for kid in sorted(self.keys)]

    def _install(self, found: KeySet) -> None:
        self.key_set = found
        self._keys = parse_keys(found.signing_keys)
        self.identity.seal.rotate_to(found.hpke_key, found.seal_from)

    def note_key_set(self, answer: dict[str, Any]) -> bool:
        """Take the key set an answer announces, if any; True when it changed what this agent trusts or
        seals to. Raises ReceiptError (and changes nothing) on a set not signed by a trusted key or older
        than the one held."""
        raw = answer.get("key_set")
        if raw is None or (self.key_set is not None and raw == self.key_set.signed):
            return False
        try:
            found = verify_key_set(raw, self.keys)
            if self.key_set is not None and found.serial < self.key_set.serial:
                raise ReceiptError("rollback", f"key set {found.serial} is older than key set {self.key_set.serial}")
        except ReceiptError:
            self.refused_key_sets += 1
            raise
        self._install(found)
        if self.home is not None:
            save_key_set(self.home, found.signing_keys, found.signed)
        log.warning("the collector announced key set %d: trusting %s; sealing to its new HPKE key from %s",
                    found.serial, ", ".join(self.describe()),
                    format_ts(datetime.fromtimestamp(found.seal_from, UTC)))
        return True

    def receipt(self, kind: str, ref: int | str, body: bytes, answer: dict[str, Any]) -> Receipt:
        """The verified receipt in ``answer`` for exactly the envelope ``body``; raises ReceiptError."""
        return verify_receipt(receipt_in(answer), self.keys, kind=kind, agent_id=self.identity.agent_id,
                              ref=ref, digest=hashlib.sha256(body).hexdigest())

    def fetch(self, transport: Transport) -> None:
        """The upgrade step: learn the collector's signing keys, proven by its HPKE key; raises
        ReceiptError (a stand-in answered) or TransportError (retry later)."""
        nonce = os.urandom(32)
        body = wire.seal_key_request(agent_id=self.identity.agent_id, nonce=nonce,
                                     sealed_at=format_ts(datetime.now(UTC)),
                                     collector_key=self.identity.collector_key, agent_key=self.identity.agent_key)
        reply = transport.post(KEYS_PATH, body)
        if reply.status != 200:
            raise TransportError(f"signing keys not available (HTTP {reply.status})")
        raw, proof = reply.body.get("signing_keys"), reply.body.get("proof")
        if not isinstance(raw, dict) or not isinstance(proof, str) \
                or not hmac.compare_digest(proof, keys_proof(nonce, {str(k): str(v) for k, v in raw.items()})):
            raise ReceiptError("bad_proof", "the signing keys are not proven by the collector's HPKE key")
        self._keys = parse_keys(raw)
        if self.home is not None:
            save_signing_keys(self.home, {str(k): str(v) for k, v in raw.items()})
        log.info("learned the collector's signing keys %s (proven by its HPKE key)", ", ".join(sorted(self._keys)))
        if reply.body.get("key_set") is not None:  # a rotation: also its new HPKE key and retire times
            self.note_key_set(reply.body)
