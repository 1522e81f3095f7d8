"""The agent reads its own PKCS#8 Ed25519 key without cryptography's serialization package, and its run
path stays clear of the libraries it does not need (each costs resident memory on every PC)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from agent.identity import load_key


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@pytest.mark.parametrize("n", range(20))
def test_the_direct_read_gives_the_same_key_as_the_parser(n: int) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    loaded = load_key(pem)
    assert isinstance(loaded, Ed25519PrivateKey) and _raw(loaded) == _raw(key)
    loaded_crlf = load_key(pem.replace(b"\n", b"\r\n"))  # a key file edited on Windows
    assert isinstance(loaded_crlf, Ed25519PrivateKey) and _raw(loaded_crlf) == _raw(key)


def test_other_pem_forms_go_through_the_parser() -> None:
    x = X25519PrivateKey.generate()
    other = load_key(x.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    assert isinstance(other, X25519PrivateKey)  # same length, other algorithm: not mistaken for Ed25519
    ed = Ed25519PrivateKey.generate()
    openssh = ed.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    with pytest.raises(ValueError):
        load_key(openssh)
    encrypted = ed.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pw"))
    with pytest.raises(TypeError):  # cryptography: a password is needed
        load_key(encrypted)


def test_damaged_key_files_are_refused() -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    lines = pem.splitlines()
    for bad in (b"", b"not a key", b"\n".join(lines[:1] + [b"!!!!"] + lines[-1:]), pem[:40]):
        with pytest.raises(ValueError):
            load_key(bad)


def test_the_run_path_does_not_load_the_serialization_package() -> None:
    code = ("import sys; import agent.cli, agent.runner, agent.identity, contract.wire, agent.transport; "
            "print(sorted(m for m in sys.modules if m.startswith(('cryptography.hazmat.primitives.serialization', "
            "'requests', 'charset_normalizer', 'pydantic', 'orjson'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
