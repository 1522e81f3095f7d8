"""Signed answers to agents: receipts for batches and blobs, signed policies, key sets and signing-key requests.

The HTTP layer asks :class:`AnswerSigner` for the receipt of every envelope it answers (stored,
duplicate, or refused with its code) and for the signed policy of the agent it answers; agents
enrolled before signed answers fetch the signing keys once through :meth:`AnswerSigner.keys_for`,
proven by the collector's HPKE key (see :mod:`agent.trust`).

After a key rotation (:mod:`collector.keys`) answers are signed with the key every agent trusts at the
time (the old one through the window, the new one after it) and carry the signed key set
(:meth:`AnswerSigner.key_set`) that announces the new signing key, the new HPKE key and the window.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.ingest import IngestService
from collector.keys import KeyRing, iso
from collector.metrics import Metrics
from collector.policy import PolicyService
from contract import wire
from contract.errors import WireError
from contract.key_set import keys_proof, sign_key_set
from contract.receipts import envelope_hash, key_id, sign_receipt
from contract.signed_policy import sign_policy

log = logging.getLogger(__name__)
ID_FIELD = {"batch": "batch_seq", "blob": "blob_id"}


class AnswerSigner:
    def __init__(self, ring: KeyRing, metrics: Metrics, policy: PolicyService, ingest: IngestService) -> None:
        self.ring = ring
        self.metrics = metrics
        self.policy = policy  # the policy answers carry, signed per agent
        self.ingest = ingest  # key-request verification and counted refusals are ingest's
        self._key_sets: dict[tuple[bool, str], dict[str, Any]] = {}  # (in the window, signer) -> the signed set

    @property
    def key(self) -> Ed25519PrivateKey:
        """The key answers are signed with now."""
        return self.ring.signing_key(time.time())

    @property
    def key_id(self) -> str:
        return key_id(self.key.public_key())

    def public_keys(self) -> dict[str, str]:
        """The signing keys agents should trust now, ``{key_id: base64 public key}``."""
        return {key_id(pub): wire.public_key_b64(pub) for pub in self.ring.accepted_signing(time.time()).values()}

    def seal_key_b64(self) -> str:
        """The HPKE public key agents should seal to now (what enrollment hands out)."""
        now = time.time()
        return wire.public_key_b64(self.ring.hpke[self.ring.seal_gen(now)].public_key())

    def key_set(self) -> dict[str, Any] | None:
        """The signed announcement of the collector's keys, or None when they were never rotated."""
        rot = self.ring.rotation
        if rot is None:
            return None
        now = time.time()
        window = self.ring.in_window(now)
        key = self.ring.signing_key(now)
        cache = (window, key_id(key.public_key()))
        found = self._key_sets.get(cache)
        if found is None:
            accepted = self.ring.accepted_signing(now)
            old = accepted.get(rot.gen - 1)
            found = sign_key_set(
                key, serial=rot.gen,
                signing_keys={key_id(pub): wire.public_key_b64(pub) for pub in accepted.values()},
                retire={key_id(old): iso(rot.ends_at)} if old is not None else {},
                hpke_key=wire.public_key_b64(self.ring.hpke[rot.gen].public_key()), seal_from=iso(rot.seal_from))
            self._key_sets[cache] = found
        self.metrics.key_sets.inc()
        return found

    def with_key_set(self, answer: dict[str, Any]) -> dict[str, Any]:
        announced = self.key_set()
        return answer if announced is None else {**answer, "key_set": announced}

    def receipt(self, kind: str, agent_id: str, ref: int | str, body: bytes, outcome: str,
                code: str = "") -> dict[str, Any]:
        self.metrics.receipts.labels(kind, outcome).inc()
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
        return sign_policy(self.key, agent_id, self.policy.current())

    def keys_for(self, body: bytes) -> dict[str, Any]:
        """Answer a sealed signing-key request: the upgrade step of agents enrolled before signed answers,
        and of agents that were offline through a whole rotation window (sealed to a retired HPKE key)."""
        ingest = self.ingest
        if len(body) > 4096:
            raise ingest.reject("too_large", "a signing-key request is a few hundred bytes")
        try:
            agent_id, sealed_at, nonce = wire.open_key_request(body, ingest.agent_key, ingest.open_keys())
        except WireError as exc:
            raise ingest.reject(exc.code, exc.message) from exc
        ingest.check_window(sealed_at, datetime.now(UTC), agent_id, "signing-key request")
        keys = self.public_keys()
        log.info("agent %s fetched the signing keys %s", agent_id, ", ".join(sorted(keys)))
        return self.with_key_set({"signing_keys": keys, "proof": keys_proof(nonce, keys)})
