"""The deployment's customer-key secret: ``customer_keys.secret`` in the data folder.

Rollups identify customers by an HMAC of the identifier found in a page URL before masking
(:mod:`detectors.need_to_know`); this file holds the HMAC's 32-byte secret, readable by the owner
only. It is made at the first start of a data folder. Every collector process of one deployment must
hold the same file (copy it with the ``.pem`` keys): the database remembers a fingerprint of the
secret, and a collector whose secret does not match it refuses to start instead of keying the same
customer differently.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from collector.errors import ConfigError
from collector.storage import Store

log = logging.getLogger(__name__)
SECRET_FILE = "customer_keys.secret"
SECRET_BYTES = 32
_FINGERPRINT_KV = "customer_keys.fingerprint"


def load_or_create(data_dir: Path) -> bytes:
    """The secret, made (O_EXCL, mode 0600) if the data folder has none yet."""
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(SECRET_BYTES))
        log.info("made a new customer-key secret %s", path)
    try:
        secret = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the customer-key secret ({exc.strerror})") from exc
    if len(secret) != SECRET_BYTES:
        raise ConfigError(f"{path}: not a customer-key secret (expected {SECRET_BYTES} bytes, found {len(secret)})")
    return secret


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"seatguard customer keys v1", hashlib.sha256).hexdigest()[:16]


def check_shared(store: Store, secret: bytes, data_dir: Path) -> None:
    """Record the secret's fingerprint in the database, or refuse one that differs from it."""
    mine = fingerprint(secret)
    known = store.get_kv(_FINGERPRINT_KV)
    if known is None:
        store.set_kv(_FINGERPRINT_KV, mine)
        return
    if known != mine:
        log.error("customer-key secret %s does not match the deployment's (fingerprint %s, expected %s)",
                  data_dir / SECRET_FILE, mine, known)
        raise ConfigError(f"{data_dir / SECRET_FILE} differs from the one the other collectors of this database "
                          f"use: copy {SECRET_FILE} from an existing collector's data folder")
