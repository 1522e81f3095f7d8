"""Signed collector key sets and the proof that answers an agent's key upgrade request.

The collector announces its keys (``seatguard-collector keys rotate``) in a *key set* signed by a key the
agent already trusts::

    {"v": 1, "serial": 2, "signing_keys": {"<old id>": "<b64>", "<new id>": "<b64>"},
     "retire": {"<old id>": "2026-12-17T09:00:00Z"}, "hpke_key": "<b64 X25519>", "seal_from": "<time>",
     "key_id": "<id of the key that signed it>", "sig": "<base64 Ed25519>"}

:func:`sign_key_set` is the collector's side, :func:`verify_key_set` the agent's; :func:`keys_proof` is
the HMAC the collector proves it opened an upgrade request's nonce with (see :mod:`agent.trust`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contract import wire
from contract.errors import ReceiptError, WireError
from contract.receipts import key_id

KEY_SET_VERSION = 1


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


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _key_set_message(body: dict[str, Any]) -> bytes:
    return b"seatguard-keyset/v1\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_key_set(key: Ed25519PrivateKey, *, serial: int, signing_keys: dict[str, str], retire: dict[str, str],
                 hpke_key: str, seal_from: str) -> dict[str, Any]:
    """The collector's announcement of its keys (see the module docstring), signed by ``key``."""
    body: dict[str, Any] = {"v": KEY_SET_VERSION, "serial": serial, "signing_keys": dict(signing_keys),
                            "retire": dict(retire), "hpke_key": hpke_key, "seal_from": seal_from,
                            "key_id": key_id(key.public_key())}
    return {**body, "sig": base64.b64encode(key.sign(_key_set_message(body))).decode()}


@dataclass(frozen=True)
class KeySet:
    """A verified key set."""

    serial: int
    signing_keys: dict[str, str]
    retire: dict[str, float]
    hpke_key: str
    seal_from: float
    signed: dict[str, Any]  # as received: kept in the enrollment record and checked again at each start


def verify_key_set(raw: Any, keys: dict[str, Ed25519PublicKey]) -> KeySet:
    """Raise :class:`ReceiptError` unless ``raw`` is a well-formed key set signed by one of ``keys``."""
    if not isinstance(raw, dict):
        raise ReceiptError("malformed", "the key set is not an object")
    body = {k: v for k, v in raw.items() if k != "sig"}
    serial, signing, retire, hpke_key, seal_from, kid, sig = (raw.get(k) for k in (
        "serial", "signing_keys", "retire", "hpke_key", "seal_from", "key_id", "sig"))
    if raw.get("v") != KEY_SET_VERSION or not isinstance(serial, int) or isinstance(serial, bool) \
            or not isinstance(signing, dict) or not isinstance(retire, dict) \
            or not all(isinstance(v, str) for v in (hpke_key, seal_from, kid, sig)):
        raise ReceiptError("malformed", f"not a v{KEY_SET_VERSION} key set")
    key = keys.get(str(kid))
    if key is None:
        raise ReceiptError("unknown_key", f"the key set is signed by key {kid!r}, which this agent does not trust")
    try:
        key.verify(base64.b64decode(str(sig), validate=True), _key_set_message(body))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise ReceiptError("bad_signature", "the key set's signature does not verify") from exc
    parse_keys(signing)
    try:
        wire.load_x25519_public(str(hpke_key))
        until = {str(k): _ts(str(v)) for k, v in retire.items()}
        start = _ts(str(seal_from))
    except (WireError, ValueError) as exc:
        raise ReceiptError("malformed", "the key set's HPKE key or times are not valid") from exc
    if not set(until) <= set(signing):
        raise ReceiptError("malformed", "the key set retires a key it does not list")
    return KeySet(serial, {str(k): str(v) for k, v in signing.items()}, until, str(hpke_key), start, dict(raw))
