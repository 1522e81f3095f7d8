"""The collector signing keys an agent trusts, and how an agent enrolled before signed answers gets them.

New agents receive the collector's signing keys in the enrollment answer. An agent enrolled before
signed answers existed has only the collector's HPKE key in its enrollment record; before its first
upload it makes one upgrade request anchored in that key (no trust on first use): it seals a fresh
random nonce to the collector's HPKE key and signs it with its own key. Only the real collector can
open the nonce, and it answers its signing keys with ``proof = HMAC-SHA256(nonce, keys)``; a stand-in
server cannot compute the proof, so its keys are refused and the batches stay in the spool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import wire
from agent.envelope import format_ts
from agent.errors import ReceiptError, WireError
from agent.identity import Identity, save_signing_keys
from agent.receipts import Receipt, key_id, receipt_in, verify_receipt
from agent.transport import Transport, TransportError

log = logging.getLogger(__name__)
KEYS_PATH = "/api/v1/signing-keys"


def keys_proof(nonce: bytes, keys: dict[str, str]) -> str:
    """What the collector proves knowledge of the nonce with (hex HMAC-SHA256 over the sorted key list)."""
    return hmac.new(nonce, json.dumps(keys, sort_keys=True, separators=(",", ":")).encode(),
                    hashlib.sha256).hexdigest()


def parse_keys(raw: Any) -> dict[str, Ed25519PublicKey]:
    """``{key_id: base64 public key}`` -> keys, each checked to carry its own id; raises ReceiptError."""
    if not isinstance(raw, dict) or not raw:
        raise ReceiptError("malformed", "no signing keys")
    out: dict[str, Ed25519PublicKey] = {}
    for kid, b64 in raw.items():
        try:
            key = wire.load_ed25519_public(str(b64))
        except WireError as exc:
            raise ReceiptError("malformed", f"signing key {kid!r} is not an Ed25519 public key") from exc
        if key_id(key) != kid:
            raise ReceiptError("malformed", f"signing key {kid!r} does not match its id")
        out[str(kid)] = key
    return out


class Trust:
    """The signing keys this agent checks answers with (held in its enrollment record)."""

    def __init__(self, home: Path | None, identity: Identity) -> None:
        self.home = home
        self.identity = identity
        self.keys: dict[str, Ed25519PublicKey] = parse_keys(identity.signing_keys) if identity.signing_keys else {}

    @property
    def ready(self) -> bool:
        return bool(self.keys)

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
        self.keys = parse_keys(raw)
        if self.home is not None:
            save_signing_keys(self.home, {str(k): str(v) for k, v in raw.items()})
        log.info("learned the collector's signing keys %s (proven by its HPKE key)", ", ".join(sorted(self.keys)))
