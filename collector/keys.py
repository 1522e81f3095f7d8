"""The collector's HPKE key pair, kept in the data folder (private half readable by the owner only)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from collector.errors import ConfigError

KEY_FILE = "collector_x25519.pem"


def create_key(data_dir: Path) -> X25519PrivateKey:
    path = data_dir / KEY_FILE
    if path.exists():
        return load_key(data_dir)
    key = X25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return key


def load_key(data_dir: Path) -> X25519PrivateKey:
    path = data_dir / KEY_FILE
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ConfigError(f"{data_dir} has no collector key: run `seatguard-collector init --data {data_dir}`") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not a readable private key") from exc
    if not isinstance(key, X25519PrivateKey):
        raise ConfigError(f"{path}: not an X25519 key")
    return key
