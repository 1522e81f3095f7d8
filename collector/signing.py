"""Signed answers to agents: receipts for batches and blobs, signed policies, and signing-key requests.

The HTTP layer asks :class:`AnswerSigner` for the receipt of every envelope it answers (stored,
duplicate, or refused with its code) and for the signed policy of the agent it answers; agents
enrolled before signed answers fetch the signing keys once through :meth:`AnswerSigner.keys_for`,
proven by the collector's HPKE key (see :mod:`agent.trust`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import wire
from agent.errors import WireError
from agent.receipts import envelope_hash, key_id, sign_receipt
from agent.signed_policy import sign_policy
from agent.trust import keys_proof

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger(__name__)
ID_FIELD = {"batch": "batch_seq", "blob": "blob_id"}


class AnswerSigner:
    def __init__(self, collector: Collector, key: Ed25519PrivateKey) -> None:
        self.collector = collector
        self.key = key
        self.key_id = key_id(key.public_key())

    def public_keys(self) -> dict[str, str]:
        """The signing keys agents should trust, ``{key_id: base64 public key}``."""
        return {self.key_id: wire.public_key_b64(self.key.public_key())}

    def receipt(self, kind: str, agent_id: str, ref: int | str, body: bytes, outcome: str,
                code: str = "") -> dict[str, Any]:
        self.collector.metrics.receipts.labels(kind, outcome).inc()
        return sign_receipt(self.key, kind=kind, agent_id=agent_id, ref=ref, digest=envelope_hash(body),
                            outcome=outcome, code=code)

    def refusal(self, kind: str, body: bytes, code: str) -> dict[str, Any] | None:
        """The receipt of a refused envelope, or None when the body does not even name its agent and
        batch (the agent then retries: a well-formed envelope of its own is never refused that way)."""
        ids = wire.peek_ids(body, ID_FIELD[kind])
        if ids is None:
            return None
        return self.receipt(kind, ids[0], ids[1], body, "refused", code)

    def policy_for(self, agent_id: str) -> dict[str, Any]:
        return sign_policy(self.key, agent_id, self.collector.policy.current())

    def keys_for(self, body: bytes) -> dict[str, Any]:
        """Answer a sealed signing-key request (the upgrade step of agents enrolled before signed answers)."""
        ingest = self.collector.ingest
        if len(body) > 4096:
            raise ingest.reject("too_large", "a signing-key request is a few hundred bytes")
        try:
            agent_id, sealed_at, nonce = wire.open_key_request(body, ingest.agent_key, self.collector.key)
        except WireError as exc:
            raise ingest.reject(exc.code, exc.message) from exc
        ingest.check_window(sealed_at, datetime.now(UTC), agent_id, "signing-key request")
        keys = self.public_keys()
        log.info("agent %s fetched the signing keys %s", agent_id, ", ".join(sorted(keys)))
        return {"signing_keys": keys, "proof": keys_proof(nonce, keys)}
