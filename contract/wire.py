"""Wire protocol v1: sealing, signing, verifying and opening event batches.

A batch travels as a small JSON envelope (the HTTP body of ``POST /api/v1/batches``)::

    {"v": 1, "agent_id": "...", "batch_seq": 7, "sealed_at": "2026-11-24T09:00:00.000Z",
     "ct": "<base64 HPKE ciphertext>", "sig": "<base64 Ed25519 signature>"}

* The plaintext is ``zlib(JSON{"agent_id","batch_seq","prev_batch_hash","events":[...]})``.
* It is sealed with HPKE (RFC 9180: X25519 / HKDF-SHA256 / AES-256-GCM) to the collector key;
  the header (agent_id, batch_seq, sealed_at) is bound as the HPKE ``info`` so a ciphertext cannot
  be moved to another agent or sequence number.
* The agent signs ``header || SHA-256(ct)`` with its Ed25519 key.
* A batch's hash is ``SHA-256(ct)`` (hex); the next batch carries it as ``prev_batch_hash``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from contract.envelope import AGENT_ID_RE, HASH_RE, MAX_SEQ
from contract.errors import WireError

WIRE_VERSION = 1
GENESIS_HASH = "0" * 64
MAX_PLAINTEXT = 64 * 1024 * 1024
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
OpenKeys = X25519PrivateKey | Sequence[X25519PrivateKey]  # after a key rotation: every key, tried in order


def _open_with(ct: bytes, keys: OpenKeys, info: bytes) -> tuple[bytes, int]:
    """(plaintext, index of the key that opened it); raises InvalidTag or ValueError when none does."""
    ring = [keys] if isinstance(keys, X25519PrivateKey) else list(keys)
    failure: Exception = ValueError("no collector key")
    for index, key in enumerate(ring):
        try:
            return _SUITE.decrypt(ct, key, info=info), index
        except (InvalidTag, ValueError) as exc:
            failure = exc
    raise failure


@dataclass(frozen=True)
class Envelope:
    """A parsed, not yet verified, batch envelope."""

    agent_id: str
    batch_seq: int
    sealed_at: str
    ct: bytes
    sig: bytes

    @property
    def batch_hash(self) -> str:
        return hashlib.sha256(self.ct).hexdigest()


@dataclass(frozen=True)
class Batch:
    """An opened batch: its events are still unvalidated JSON values."""

    agent_id: str
    batch_seq: int
    prev_batch_hash: str
    events: list[Any]
    key_index: int = 0  # which of the collector keys opened it


def _header(agent_id: str, batch_seq: int, sealed_at: str) -> bytes:
    return f"seatguard-batch/v{WIRE_VERSION}\n{agent_id}\n{batch_seq}\n{sealed_at}\n".encode()


def _signed_bytes(agent_id: str, batch_seq: int, sealed_at: str, ct: bytes) -> bytes:
    return _header(agent_id, batch_seq, sealed_at) + hashlib.sha256(ct).digest()


def seal_batch(
    *,
    agent_id: str,
    batch_seq: int,
    prev_batch_hash: str,
    events: list[dict[str, Any]],
    sealed_at: str,
    collector_key: X25519PublicKey,
    agent_key: Ed25519PrivateKey,
) -> tuple[bytes, str]:
    """Seal and sign a batch; return (envelope bytes, batch hash)."""
    payload = _dumps(
        {"agent_id": agent_id, "batch_seq": batch_seq, "prev_batch_hash": prev_batch_hash, "events": events}
    )
    ct = _SUITE.encrypt(zlib.compress(payload, 6), collector_key, info=_header(agent_id, batch_seq, sealed_at))
    sig = agent_key.sign(_signed_bytes(agent_id, batch_seq, sealed_at, ct))
    body = _dumps(
        {
            "v": WIRE_VERSION,
            "agent_id": agent_id,
            "batch_seq": batch_seq,
            "sealed_at": sealed_at,
            "ct": base64.b64encode(ct).decode(),
            "sig": base64.b64encode(sig).decode(),
        }
    )
    return body, hashlib.sha256(ct).hexdigest()


def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON. Sealing runs in the agent, where the standard library's encoder keeps the
    process about 2 MB smaller than orjson; NaN and infinities are refused, as the collector would."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _loads(data: bytes) -> Any:
    """Parse JSON on the collector's hot path (orjson; JSONDecodeError is a ValueError)."""
    import orjson

    return orjson.loads(data)


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise WireError("malformed", f"'{name}' must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError("malformed", f"'{name}' is not valid base64") from exc


def parse_envelope(body: bytes) -> Envelope:
    """Parse the JSON envelope; raise WireError('malformed') on any deviation."""
    try:
        obj = _loads(body)
    except ValueError as exc:
        raise WireError("malformed", "body is not JSON") from exc
    if not isinstance(obj, dict):
        raise WireError("malformed", "body must be a JSON object")
    if obj.get("v") != WIRE_VERSION:
        raise WireError("malformed", f"unsupported wire version {obj.get('v')!r}")
    agent_id, batch_seq, sealed_at = obj.get("agent_id"), obj.get("batch_seq"), obj.get("sealed_at")
    if not isinstance(agent_id, str) or not AGENT_ID_RE.match(agent_id):
        raise WireError("malformed", "'agent_id' is missing or invalid")
    if not isinstance(batch_seq, int) or isinstance(batch_seq, bool) or not 1 <= batch_seq <= MAX_SEQ:
        raise WireError("malformed", f"'batch_seq' must be an integer from 1 to {MAX_SEQ}")
    if not isinstance(sealed_at, str) or len(sealed_at) > 40:
        raise WireError("malformed", "'sealed_at' is missing or invalid")
    return Envelope(agent_id, batch_seq, sealed_at, _b64(obj.get("ct"), "ct"), _b64(obj.get("sig"), "sig"))


def verify_envelope(env: Envelope, agent_public_key: Ed25519PublicKey) -> None:
    """Check the agent's signature; raise WireError('bad_signature') when it does not verify."""
    try:
        agent_public_key.verify(env.sig, _signed_bytes(env.agent_id, env.batch_seq, env.sealed_at, env.ct))
    except InvalidSignature as exc:
        raise WireError("bad_signature", "the batch signature does not verify with the agent's key") from exc


def open_envelope(env: Envelope, collector_key: OpenKeys, *, max_plaintext: int = MAX_PLAINTEXT,
                  max_ratio: float = 0.0, max_containers: int = 0) -> Batch:
    """Decrypt, decompress (bounded: never more than ``max_plaintext`` bytes are inflated, and with
    ``max_ratio`` > 0 never more than that many times the compressed size) and parse a verified envelope.

    With ``max_containers`` > 0 a payload holding more ``{`` and ``[`` bytes than that (JSON objects and
    arrays, and any in strings) is refused before it is parsed: small objects cost a parser some 150
    times their few bytes each, so the byte cap alone would not bound the memory of one request.

    ``collector_key`` may be several keys (a rotation): each is tried in turn."""
    try:
        packed, index = _open_with(env.ct, collector_key, _header(env.agent_id, env.batch_seq, env.sealed_at))
    except (InvalidTag, ValueError) as exc:
        raise WireError("tampered_ciphertext", "the ciphertext does not open with the collector key") from exc
    try:
        limit = max_plaintext if max_ratio <= 0 else min(max_plaintext, int(len(packed) * max_ratio) + 1)
        inflater = zlib.decompressobj()
        plain = inflater.decompress(packed, limit)
        if inflater.unconsumed_tail or (len(plain) >= limit and not inflater.eof):
            code = "too_large" if limit == max_plaintext else "inflate_ratio"
            raise WireError(code, "the batch inflates beyond the size or ratio limit")
        if max_containers > 0 and plain.count(b"{") + plain.count(b"[") > max_containers:
            raise WireError("too_many_values", f"the batch holds more than {max_containers} JSON objects and arrays")
        payload = _loads(plain)
    except (zlib.error, ValueError) as exc:
        raise WireError("malformed", "the sealed payload is not compressed JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise WireError("malformed", "the sealed payload has no event list")
    if payload.get("agent_id") != env.agent_id or payload.get("batch_seq") != env.batch_seq:
        raise WireError("malformed", "the sealed payload does not match its envelope")
    prev = payload.get("prev_batch_hash")
    if not isinstance(prev, str) or not HASH_RE.match(prev):
        raise WireError("bad_hash", "'prev_batch_hash' must be 64 lowercase hex digits")
    return Batch(env.agent_id, env.batch_seq, prev, payload["events"], index)


def public_key_b64(key: X25519PublicKey | Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes_raw()).decode()


def load_x25519_public(b64: str) -> X25519PublicKey:
    try:
        return X25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise WireError("malformed", "not a base64 X25519 public key") from exc


def load_ed25519_public(b64: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise WireError("malformed", "not a base64 Ed25519 public key") from exc


def new_collector_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def new_agent_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# -- blobs (screenshots): sealed and signed like batches, uploaded to POST /api/v1/blobs ----------------
BLOB_ID_MAX = 64


@dataclass(frozen=True)
class BlobEnvelope:
    agent_id: str
    blob_id: str
    sealed_at: str
    ct: bytes
    sig: bytes


def _blob_header(agent_id: str, blob_id: str, sealed_at: str) -> bytes:
    return f"seatguard-blob/v{WIRE_VERSION}\n{agent_id}\n{blob_id}\n{sealed_at}\n".encode()


def seal_blob(*, agent_id: str, blob_id: str, data: bytes, sealed_at: str, collector_key: X25519PublicKey,
              agent_key: Ed25519PrivateKey) -> bytes:
    """Seal and sign one blob (a screenshot PNG); the envelope is what the spool keeps and ships."""
    ct, sig = _seal_signed(data, _blob_header(agent_id, blob_id, sealed_at), collector_key, agent_key)
    return _dumps({"v": WIRE_VERSION, "agent_id": agent_id, "blob_id": blob_id, "sealed_at": sealed_at,
                   "ct": ct, "sig": sig})


def _seal_signed(plain: bytes, header: bytes, collector_key: X25519PublicKey,
                 agent_key: Ed25519PrivateKey) -> tuple[str, str]:
    """HPKE-seal ``plain`` under ``header`` and sign header + SHA-256 of the ciphertext: (ct, sig) in base64."""
    ct = _SUITE.encrypt(plain, collector_key, info=header)
    sig = agent_key.sign(header + hashlib.sha256(ct).digest())
    return base64.b64encode(ct).decode(), base64.b64encode(sig).decode()


def _load_v1(body: bytes, what: str) -> dict[str, Any]:
    """The JSON object of a v1 ``what`` (blob envelope, key request), else WireError malformed."""
    try:
        obj = _loads(body)
    except ValueError as exc:
        raise WireError("malformed", "body is not JSON") from exc
    if not isinstance(obj, dict) or obj.get("v") != WIRE_VERSION:
        raise WireError("malformed", f"not a v1 {what}")
    return obj


def parse_blob_envelope(body: bytes) -> BlobEnvelope:
    obj = _load_v1(body, "blob envelope")
    agent_id, blob_id, sealed_at = obj.get("agent_id"), obj.get("blob_id"), obj.get("sealed_at")
    if not isinstance(agent_id, str) or not AGENT_ID_RE.match(agent_id):
        raise WireError("malformed", "'agent_id' is missing or invalid")
    if not isinstance(blob_id, str) or not AGENT_ID_RE.match(blob_id):
        raise WireError("malformed", "'blob_id' is missing or invalid")
    if not isinstance(sealed_at, str) or len(sealed_at) > 40:
        raise WireError("malformed", "'sealed_at' is missing or invalid")
    return BlobEnvelope(agent_id, blob_id, sealed_at, _b64(obj.get("ct"), "ct"), _b64(obj.get("sig"), "sig"))


def verify_blob(env: BlobEnvelope, agent_public_key: Ed25519PublicKey) -> None:
    header = _blob_header(env.agent_id, env.blob_id, env.sealed_at)
    try:
        agent_public_key.verify(env.sig, header + hashlib.sha256(env.ct).digest())
    except InvalidSignature as exc:
        raise WireError("bad_signature", "the blob signature does not verify with the agent's key") from exc


def open_blob(env: BlobEnvelope, collector_key: OpenKeys) -> bytes:
    return open_blob_with(env, collector_key)[0]


def open_blob_with(env: BlobEnvelope, collector_key: OpenKeys) -> tuple[bytes, int]:
    """The blob's bytes and the index of the key (of several, after a rotation) that opened it."""
    try:
        return _open_with(env.ct, collector_key, _blob_header(env.agent_id, env.blob_id, env.sealed_at))
    except (InvalidTag, ValueError) as exc:
        raise WireError("tampered_ciphertext", "the blob does not open with the collector key") from exc


# -- signing-key requests: how an agent enrolled before signed answers learns the collector's keys -------
def _keys_header(agent_id: str, sealed_at: str) -> bytes:
    return f"seatguard-keys/v{WIRE_VERSION}\n{agent_id}\n{sealed_at}\n".encode()


def seal_key_request(*, agent_id: str, nonce: bytes, sealed_at: str, collector_key: X25519PublicKey,
                     agent_key: Ed25519PrivateKey) -> bytes:
    """A nonce sealed to the collector's HPKE key and signed by the agent: only the collector can open it."""
    ct, sig = _seal_signed(nonce, _keys_header(agent_id, sealed_at), collector_key, agent_key)
    return _dumps({"v": WIRE_VERSION, "agent_id": agent_id, "sealed_at": sealed_at, "ct": ct, "sig": sig})


def open_key_request(body: bytes, agent_key_for: Any, collector_key: OpenKeys) -> tuple[str, str, bytes]:
    """(agent_id, sealed_at, nonce) of a verified key request; ``agent_key_for(agent_id)`` gives the agent's
    public key. Raises WireError (malformed, bad_signature, tampered_ciphertext)."""
    obj = _load_v1(body, "key request")
    agent_id, sealed_at = obj.get("agent_id"), obj.get("sealed_at")
    if not isinstance(agent_id, str) or not AGENT_ID_RE.match(agent_id):
        raise WireError("malformed", "'agent_id' is missing or invalid")
    if not isinstance(sealed_at, str) or len(sealed_at) > 40:
        raise WireError("malformed", "'sealed_at' is missing or invalid")
    ct, sig = _b64(obj.get("ct"), "ct"), _b64(obj.get("sig"), "sig")
    header = _keys_header(agent_id, sealed_at)
    try:
        agent_key_for(agent_id).verify(sig, header + hashlib.sha256(ct).digest())
    except InvalidSignature as exc:
        raise WireError("bad_signature", "the key request's signature does not verify") from exc
    try:
        nonce = _open_with(ct, collector_key, header)[0]
    except (InvalidTag, ValueError) as exc:
        raise WireError("tampered_ciphertext", "the key request does not open with the collector key") from exc
    return agent_id, sealed_at, nonce


def peek_ids(body: bytes, id_field: str) -> tuple[str, int | str] | None:
    """(agent_id, batch_seq or blob_id) of an envelope that may be refused for anything else, or None."""
    try:
        obj = _loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    agent_id, ref = obj.get("agent_id"), obj.get(id_field)
    if not isinstance(agent_id, str) or not AGENT_ID_RE.match(agent_id):
        return None
    if id_field == "batch_seq":
        ok = isinstance(ref, int) and not isinstance(ref, bool) and 1 <= ref <= MAX_SEQ
    else:
        ok = isinstance(ref, str) and AGENT_ID_RE.match(ref) is not None
    return (agent_id, ref) if ok else None  # type: ignore[return-value]
