"""Signed, versioned policies: what the collector sends and the only kind the agent applies.

A signed policy travels next to the plain one in enrollment and batch answers::

    {"v": 1, "agent_id": "pc-0042", "version": 7, "hash": "<sha256 hex of text>",
     "text": "<the policy as canonical JSON>", "key_id": "<16 hex>", "sig": "<base64 Ed25519>"}

``text`` is the policy serialised with sorted keys and no spaces; its SHA-256 is the ``policy_hash`` that
heartbeats report next to ``policy_version``. The agent accepts a signed policy only when it verifies
with a trusted key, is addressed to it and is not older than the one in force (:func:`accept_policy`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contract.errors import ReceiptError
from contract.receipts import key_id

POLICY_SIG_VERSION = 1
NO_POLICY_HASH = "0" * 64


def canonical(policy: Mapping[str, Any]) -> str:
    """The one text form of a policy that is hashed and signed."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def policy_hash(policy: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(policy).encode()).hexdigest()


def policy_version(policy: Mapping[str, Any]) -> int:
    version = policy.get("version", 0)
    return version if isinstance(version, int) and not isinstance(version, bool) and version >= 0 else 0


def _message(agent_id: str, version: int, digest: str, kid: str) -> bytes:
    return f"seatguard-policy/v{POLICY_SIG_VERSION}\n{agent_id}\n{version}\n{digest}\n{kid}\n".encode()


def sign_policy(key: Ed25519PrivateKey, agent_id: str, policy: Mapping[str, Any]) -> dict[str, Any]:
    text = canonical(policy)
    digest = hashlib.sha256(text.encode()).hexdigest()
    version = policy_version(policy)
    kid = key_id(key.public_key())
    sig = key.sign(_message(agent_id, version, digest, kid))
    return {"v": POLICY_SIG_VERSION, "agent_id": agent_id, "version": version, "hash": digest, "text": text,
            "key_id": kid, "sig": base64.b64encode(sig).decode()}


@dataclass(frozen=True)
class VerifiedPolicy:
    policy: dict[str, Any]
    version: int
    hash: str
    signed: dict[str, Any]  # kept as received, so that the agent can check it again at its next start


def verify_policy(signed: Any, keys: Mapping[str, Ed25519PublicKey], agent_id: str) -> VerifiedPolicy:
    """Raise :class:`ReceiptError` unless ``signed`` is a policy for ``agent_id`` signed by a trusted key."""
    if not isinstance(signed, dict):
        raise ReceiptError("missing", "the answer carries no signed policy")
    text, kid, sig, version = signed.get("text"), signed.get("key_id"), signed.get("sig"), signed.get("version")
    if signed.get("v") != POLICY_SIG_VERSION or not all(isinstance(v, str) for v in (text, kid, sig)) \
            or not isinstance(version, int) or isinstance(version, bool):
        raise ReceiptError("malformed", "not a v1 signed policy")
    if signed.get("agent_id") != agent_id:
        raise ReceiptError("foreign", "the signed policy is addressed to another agent")
    digest = hashlib.sha256(str(text).encode()).hexdigest()
    key = keys.get(str(kid))
    if key is None:
        raise ReceiptError("unknown_key", f"the policy is signed by key {kid!r}, which this agent does not trust")
    try:
        key.verify(base64.b64decode(str(sig), validate=True), _message(agent_id, version, digest, str(kid)))
        policy = json.loads(str(text))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise ReceiptError("bad_signature", "the policy's signature does not verify") from exc
    if not isinstance(policy, dict) or policy_version(policy) != version:
        raise ReceiptError("malformed", "the signed text is not the policy of that version")
    return VerifiedPolicy(policy, version, digest, dict(signed))


def accept_policy(signed: Any, keys: Mapping[str, Ed25519PublicKey], agent_id: str,
                  in_force: VerifiedPolicy | None) -> VerifiedPolicy | None:
    """The new policy to apply, None when ``signed`` is the one in force; raises on a forged or older one."""
    found = verify_policy(signed, keys, agent_id)
    if in_force is not None:
        if found.version < in_force.version:
            raise ReceiptError("rollback", f"policy version {found.version} is older than version "
                               f"{in_force.version} in force")
        if found.hash == in_force.hash:
            return None
    return found
