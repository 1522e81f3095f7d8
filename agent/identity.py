"""The agent's enrollment: its key, its agent_id and the collector it reports to."""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agent.errors import ConfigError, EnrollmentError
from agent.transport import HttpTransport, TransportError
from contract import wire

log = logging.getLogger(__name__)
ENROLLMENT_FILE = "enrollment.json"
KEY_FILE = "agent_ed25519.pem"
# RFC 8410: an Ed25519 key in PKCS#8 (as `enroll` writes it) is this DER prefix and the 32-byte seed
_PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")
_PEM_LABEL = b"PRIVATE KEY"


class SealTarget:
    """The collector HPKE key new batches and blobs are sealed to: the enrolled one, or after a key rotation
    the announced one from its ``seal_from`` time (set by :class:`agent.trust.Trust` from a verified key set)."""

    def __init__(self, enrolled_b64: str) -> None:
        self.enrolled_b64 = enrolled_b64
        self.next_b64 = ""
        self.seal_from = 0.0

    def rotate_to(self, key_b64: str, seal_from: float) -> None:
        self.next_b64, self.seal_from = key_b64, seal_from

    def current_b64(self, now: float | None = None) -> str:
        if self.next_b64 and (time.time() if now is None else now) >= self.seal_from:
            return self.next_b64
        return self.enrolled_b64


@dataclass(frozen=True)
class Identity:
    agent_id: str
    team: str
    collector_url: str
    collector_key_b64: str
    agent_key: Ed25519PrivateKey
    policy: dict[str, Any]
    signing_keys: dict[str, str] = field(default_factory=dict)  # key_id -> base64 Ed25519 public key
    signed_policy: dict[str, Any] | None = None  # the policy in force as the collector signed it
    enrolled_collector: str = ""  # collector_fingerprint() of the URL and key at enrollment
    key_set: dict[str, Any] | None = None  # the collector's last signed key set (key rotation), as received
    seal: SealTarget = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seal", SealTarget(self.collector_key_b64))

    @property
    def collector_fingerprint(self) -> str:
        """Of the URL and the enrolled HPKE key: a rotation announced in a signed key set is not a change."""
        return collector_fingerprint(self.collector_url, self.collector_key_b64)

    @property
    def collector_key(self) -> X25519PublicKey:
        """The HPKE key to seal to now (the enrolled one until a verified key set says otherwise)."""
        return wire.load_x25519_public(self.seal.current_b64())


def default_name() -> str:
    raw = f"{getpass.getuser()}.{socket.gethostname()}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", raw)[:64]


def enroll(home: Path, collector_url: str, token: str, name: str | None = None,
           tls_verify: bool | str = True, allow_insecure_http: bool = False) -> Identity:
    """Create a key, register it with a one-time token and store the enrollment in ``home``."""
    from agent.transport import require_secure

    require_secure(collector_url, allow_insecure_http, tls_verify)
    home.mkdir(parents=True, exist_ok=True)
    if (home / ENROLLMENT_FILE).exists():
        raise EnrollmentError(f"{home} is already enrolled; use a fresh --home to enroll again")
    key = wire.new_agent_key()
    request = {
        "token": token,
        "public_key": wire.public_key_b64(key.public_key()),
        "name": name or default_name(),
        "hostname": socket.gethostname(),
        "user": getpass.getuser(),
    }
    transport = HttpTransport(collector_url, timeout_s=30, verify=tls_verify)
    try:
        reply = transport.post("/api/v1/enroll", json.dumps(request).encode())
    except TransportError as exc:
        raise EnrollmentError(f"collector {collector_url} not reachable: {exc}") from exc
    finally:
        transport.close()
    if reply.status != 200:
        err = reply.body.get("error")
        detail = err.get("message") if isinstance(err, dict) else reply.body
        raise EnrollmentError(f"enrollment refused (HTTP {reply.status}): {detail}")
    body = reply.body
    _check_signed(body)
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key_path = home / KEY_FILE
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    record = {
        "agent_id": body["agent_id"],
        "team": body.get("team", ""),
        "collector_url": collector_url,
        "collector_key": body["collector_key"],
        "policy": body.get("policy", {}),
        "signing_keys": body.get("signing_keys", {}),
        "signed_policy": body.get("signed_policy"),
        **({"key_set": body["key_set"]} if isinstance(body.get("key_set"), dict) else {}),
        "enrolled_collector": collector_fingerprint(collector_url, str(body["collector_key"])),
    }
    (home / ENROLLMENT_FILE).write_bytes(json.dumps(record, indent=2, ensure_ascii=False).encode())
    log.info("enrolled as %s with %s", record["agent_id"], collector_url)
    return load_identity(home)


def collector_fingerprint(url: str, key_b64: str) -> str:
    """A short digest of the collector URL and HPKE key an agent ships to (a change is reported)."""
    import hashlib

    return hashlib.sha256(f"{url}\n{key_b64}".encode()).hexdigest()[:32]


def _check_signed(body: dict[str, Any]) -> None:
    """The enrollment answer's signing keys must be well formed and its policy signed by one of them."""
    from contract.errors import ReceiptError
    from contract.key_set import parse_keys
    from contract.signed_policy import verify_policy

    try:
        keys = parse_keys(body.get("signing_keys"))
        verify_policy(body.get("signed_policy"), keys, str(body.get("agent_id")))
    except ReceiptError as exc:
        raise EnrollmentError(f"the collector's enrollment answer is not signed ({exc}); "
                              "is it a SeatGuard collector of this release?") from exc


def load_identity(home: Path) -> Identity:
    path = home / ENROLLMENT_FILE
    if not path.exists():
        raise ConfigError(f"{home} is not enrolled: run `seatguard-agent enroll --home {home} ...` first")
    try:
        record = json.loads(path.read_bytes())
        key = load_key((home / KEY_FILE).read_bytes())
    except (OSError, ValueError, TypeError) as exc:  # ValueError: bad JSON or PEM; TypeError: a key with a password
        raise ConfigError(f"{home}: enrollment files are unreadable ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{home / KEY_FILE}: not an Ed25519 key")
    keys = record.get("signing_keys")
    signed = record.get("signed_policy")
    key_set = record.get("key_set")
    return Identity(record["agent_id"], record.get("team", ""), record["collector_url"],
                    record["collector_key"], key, record.get("policy", {}),
                    keys if isinstance(keys, dict) else {}, signed if isinstance(signed, dict) else None,
                    str(record.get("enrolled_collector", "")), key_set if isinstance(key_set, dict) else None)


def load_key(pem: bytes) -> object:
    """The private key in a PEM file. The PKCS#8 Ed25519 form `enroll` writes is read directly, which
    spares the running agent cryptography's serialization package (about 1 MB resident); any other
    PEM goes through cryptography's parser. Raises ValueError when the file holds no key."""
    lines = pem.strip().splitlines()
    if len(lines) >= 3 and lines[0] == b"-----BEGIN " + _PEM_LABEL + b"-----" \
            and lines[-1] == b"-----END " + _PEM_LABEL + b"-----":
        try:
            der = base64.b64decode(b"".join(lines[1:-1]), validate=True)
        except binascii.Error:
            der = b""
        if len(der) == len(_PKCS8_ED25519) + 32 and der.startswith(_PKCS8_ED25519):
            return Ed25519PrivateKey.from_private_bytes(der[len(_PKCS8_ED25519):])
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def save_policy(home: Path, policy: dict[str, Any], signed: dict[str, Any] | None = None) -> None:
    _update_record(home, policy=policy, signed_policy=signed)


def save_signing_keys(home: Path, keys: dict[str, str]) -> None:
    _update_record(home, signing_keys=keys)


def save_key_set(home: Path, keys: dict[str, str], key_set: dict[str, Any]) -> None:
    """A verified key rotation: the signing keys it lists and the signed set itself (checked at each start)."""
    _update_record(home, signing_keys=keys, key_set=key_set)


def _update_record(home: Path, **changes: Any) -> None:
    path = home / ENROLLMENT_FILE
    record = json.loads(path.read_bytes())
    record.update(changes)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(json.dumps(record, indent=2, ensure_ascii=False).encode())
    os.replace(tmp, path)
