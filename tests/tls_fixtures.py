"""A throw-away PKI and a collector served over HTTPS on loopback, for the TLS tests and bench/agent.

The CA and server certificates are made with ``cryptography``; the collector runs
``seatguard-collector serve --ssl-certfile/--ssl-keyfile``, as a deployment would.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import COLLECTOR, CollectorProcess

# ---- certificates -----------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))


def _make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False)
    cert = (_builder(cn, _name(cn), key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _make_server(issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None, client: bool = False,
                 ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A loopback server certificate signed by ``issuer``, or self-signed (the pinned case) when None;
    with ``client``, a certificate for TLS client authentication instead."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name = issuer[1].subject if issuer else _name("127.0.0.1")
    builder = (_builder("127.0.0.1", issuer_name, key.public_key())
               .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                           x509.DNSName("localhost")]), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                     else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[0].public_key()), critical=False)
    return key, builder.sign(issuer[0] if issuer else key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


@dataclass
class Pki:
    ca: Path
    wrong_ca: Path
    server: Path  # signed by ca; its key beside it (.key)
    pinned: Path  # self-signed server certificate; its key beside it (.key)
    client: Path  # a client-authentication certificate signed by ca; its key beside it (.key)


def make_pki(d: Path) -> Pki:
    """A CA with a loopback server certificate and a client certificate, another CA, and a self-signed
    (pinned) certificate."""
    d.mkdir(parents=True, exist_ok=True)
    ca = _make_ca("SeatGuard test CA")
    wrong = _make_ca("Some other CA")
    server_key, server = _make_server(ca)
    pinned_key, pinned = _make_server(None)
    client_key, client = _make_server(ca, client=True)
    return Pki(_write(d / "ca.pem", ca[1]), _write(d / "wrong-ca.pem", wrong[1]),
               _write(d / "server.pem", server, server_key), _write(d / "pinned.pem", pinned, pinned_key),
               _write(d / "client.pem", client, client_key))


class TlsCollector(CollectorProcess):
    """A collector data folder served over HTTPS on loopback by ``serve --ssl-certfile/--ssl-keyfile``."""

    def __init__(self, data: Path, cert: Path, trust: Path) -> None:
        super().__init__(data)
        self.cert, self.trust = cert, trust
        self.url = f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.data / "serve.out").open("ab")
        self.proc = subprocess.Popen(
            [COLLECTOR, "serve", "--data", str(self.data), "--port", str(self.port), "--ssl-certfile", str(self.cert),
             "--ssl-keyfile", str(self.cert.with_suffix(".key"))], stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy()

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"TLS collector exited: {(self.data / 'serve.out').read_text()[-2000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=2, verify=str(self.trust)).status_code == 200
        except requests.RequestException:
            return False


def server_context(pki: Pki, require_client: bool = False) -> ssl.SSLContext:
    """A TLS server context with the loopback certificate; optionally demanding a client certificate from ca."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server, pki.server.with_suffix(".key"))
    if require_client:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    return context
