"""Signed answers from the collector: receipts for batches and blobs.

The collector answers every batch (``POST /api/v1/batches``) and blob (``POST /api/v1/blobs``) it
could attribute to an agent with a receipt signed by its Ed25519 signing key::

    {"v": 1, "kind": "batch", "agent_id": "pc-0042", "batch_seq": 7, "envelope_hash": "<sha256 hex>",
     "outcome": "stored" | "duplicate" | "refused", "code": "" | "<refusal code>",
     "key_id": "<16 hex>", "sig": "<base64 Ed25519 signature>"}

(a blob receipt carries ``"kind": "blob"`` and ``blob_id`` instead of ``batch_seq``). A 2xx answer carries
it at the top level; a refusal keeps the one error shape and carries it as ``error.receipt``. The envelope hash is
SHA-256 of the exact bytes the agent posted, so a receipt stands for one sealed envelope and nothing
else. The agent forgets or parks a batch only on a receipt that verifies with a key it trusts and names
exactly that agent, batch and envelope (:func:`verify_receipt`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contract.errors import ReceiptError

RECEIPT_VERSION = 1
OUTCOMES = ("stored", "duplicate", "refused")
KINDS = {"batch": "batch_seq", "blob": "blob_id"}


def envelope_hash(body: bytes) -> str:
    """The hash a receipt names: SHA-256 (hex) of the envelope bytes as posted."""
    return hashlib.sha256(body).hexdigest()


def key_id(public: Ed25519PublicKey) -> str:
    """A signing key's short name: the first 16 hex digits of SHA-256 of its raw public bytes."""
    return hashlib.sha256(public.public_bytes_raw()).hexdigest()[:16]


def _message(kind: str, agent_id: str, ref: str, digest: str, outcome: str, code: str, kid: str) -> bytes:
    return (f"seatguard-receipt/v{RECEIPT_VERSION}\n{kind}\n{agent_id}\n{ref}\n{digest}\n{outcome}\n{code}\n"
            f"{kid}\n").encode()


def sign_receipt(key: Ed25519PrivateKey, *, kind: str, agent_id: str, ref: int | str, digest: str,
                 outcome: str, code: str = "") -> dict[str, Any]:
    """The receipt for one envelope (``ref`` is the batch_seq or the blob_id)."""
    if kind not in KINDS or outcome not in OUTCOMES:
        raise ValueError(f"no receipt of kind {kind!r} with outcome {outcome!r}")
    kid = key_id(key.public_key())
    sig = key.sign(_message(kind, agent_id, str(ref), digest, outcome, code, kid))
    return {"v": RECEIPT_VERSION, "kind": kind, "agent_id": agent_id, KINDS[kind]: ref, "envelope_hash": digest,
            "outcome": outcome, "code": code, "key_id": kid, "sig": base64.b64encode(sig).decode()}


@dataclass(frozen=True)
class Receipt:
    """A verified receipt: what the collector did with the envelope."""

    outcome: str
    code: str
    key_id: str


def receipt_in(answer: dict[str, Any]) -> Any:
    """The receipt of an answer: top level in a 2xx answer, inside ``error`` in a refusal."""
    error = answer.get("error")
    return error.get("receipt") if isinstance(error, dict) else answer.get("receipt")


def verify_receipt(receipt: Any, keys: Mapping[str, Ed25519PublicKey], *, kind: str, agent_id: str,
                   ref: int | str, digest: str) -> Receipt:
    """Check that ``receipt`` is signed by a trusted key and names exactly this envelope.

    Raises :class:`ReceiptError` (with a short reason) on a missing, malformed, forged or foreign receipt.
    """
    if not isinstance(receipt, dict):
        raise ReceiptError("missing", "the answer carries no receipt")
    if receipt.get("v") != RECEIPT_VERSION or receipt.get("kind") != kind:
        raise ReceiptError("malformed", f"not a v{RECEIPT_VERSION} {kind} receipt")
    fields = (receipt.get("agent_id"), receipt.get(KINDS[kind]), receipt.get("envelope_hash"),
              receipt.get("outcome"), receipt.get("code"), receipt.get("key_id"), receipt.get("sig"))
    got_agent, got_ref, got_digest, outcome, code, kid, sig = fields
    if not all(isinstance(v, str) for v in (got_agent, got_digest, outcome, code, kid, sig)) \
            or outcome not in OUTCOMES or isinstance(got_ref, bool) or not isinstance(got_ref, type(ref)):
        raise ReceiptError("malformed", "the receipt's fields are missing or of the wrong type")
    if (got_agent, got_ref, got_digest) != (agent_id, ref, digest):
        raise ReceiptError("foreign", f"the receipt names another envelope ({kind} {got_ref!r})")
    key = keys.get(str(kid))
    if key is None:
        raise ReceiptError("unknown_key", f"the receipt is signed by key {kid!r}, which this agent does not trust")
    try:
        key.verify(base64.b64decode(str(sig), validate=True),
                   _message(kind, agent_id, str(ref), digest, str(outcome), str(code), str(kid)))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise ReceiptError("bad_signature", "the receipt's signature does not verify") from exc
    return Receipt(str(outcome), str(code), str(kid))
