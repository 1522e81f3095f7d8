"""The collector's key pairs, kept in the data folder (private halves readable by the owner only).

* ``collector_x25519.pem``: the HPKE key agents seal batches and blobs to;
* ``collector_ed25519.pem``: the signing key of receipts and policies in answers to agents.

Every collector process of one deployment must hold the same files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from collector.errors import ConfigError

log = logging.getLogger(__name__)
KEY_FILE = "collector_x25519.pem"
SIGNING_KEY_FILE = "collector_ed25519.pem"


def _write_new(path: Path, key: X25519PrivateKey | Ed25519PrivateKey) -> bool:
    """Write ``key`` to ``path`` unless the file exists (False then; O_EXCL makes racing writers safe)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return True


def _load(path: Path, data_dir: Path) -> object:
    try:
        return load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ConfigError(f"{data_dir} has no {path.name}: run `seatguard-collector init --data {data_dir}`") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not a readable private key") from exc


def create_key(data_dir: Path) -> X25519PrivateKey:
    _write_new(data_dir / KEY_FILE, X25519PrivateKey.generate())
    return load_key(data_dir)


def load_key(data_dir: Path) -> X25519PrivateKey:
    key = _load(data_dir / KEY_FILE, data_dir)
    if not isinstance(key, X25519PrivateKey):
        raise ConfigError(f"{data_dir / KEY_FILE}: not an X25519 key")
    return key


def create_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The signing key, made now if the data folder has none (``init``, or the first start after an upgrade)."""
    if _write_new(data_dir / SIGNING_KEY_FILE, Ed25519PrivateKey.generate()):
        log.warning("created the answer signing key %s: copy it to every collector of this deployment",
                    data_dir / SIGNING_KEY_FILE)
    return load_signing_key(data_dir)


def load_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    key = _load(data_dir / SIGNING_KEY_FILE, data_dir)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{data_dir / SIGNING_KEY_FILE}: not an Ed25519 key")
    return key
