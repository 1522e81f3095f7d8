"""TLS between agent and collector: the agent verifies the collector certificate (``tls_verify``).

A throw-away CA and server certificate are made with ``cryptography``; the collector app is served
by uvicorn with TLS on loopback through a tiny launcher (the same calls ``serve`` makes, plus the
certificate paths). The agent enrolls and replays with ``tls_verify`` set to the CA bundle or to a
pinned self-signed certificate, and fails with a certificate error when given the wrong CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import AGENT, ROOT, CollectorProcess, wait_for, write_events

# What `seatguard-collector serve` does, with uvicorn's TLS options (see packaging/README.md, TLS).
TLS_LAUNCHER = """
import sys
from pathlib import Path

import uvicorn

from collector.api import create_app
from collector.service import Collector

data, port, certfile, keyfile = sys.argv[1:]
collector = Collector.open(Path(data))
try:
    uvicorn.run(create_app(collector), host="127.0.0.1", port=int(port), log_level="warning",
                access_log=False, ssl_certfile=certfile, ssl_keyfile=keyfile)
finally:
    collector.close()
"""
FAST = {"SEATGUARD_AGENT_BACKOFF_MIN_S": "0.05", "SEATGUARD_AGENT_BACKOFF_MAX_S": "0.2"}
# requests lets these override a session's ``verify`` (and so the agent's tls_verify, until the
# transport passes verify per request; see test_tls_verify_wins_over_requests_ca_bundle).
CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def agent_env(extra: dict[str, str] | None = None, keep_ca_env: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if keep_ca_env or k not in CA_ENV}
    return {**env, **(extra or {})}


def agent(*args: str, extra: dict[str, str] | None = None, keep_ca_env: bool = False,
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=120,
                          env=agent_env(extra, keep_ca_env))


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


def _make_server(issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None,
                 ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A loopback server certificate signed by ``issuer``, or self-signed (the pinned case) when None."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name = issuer[1].subject if issuer else _name("127.0.0.1")
    builder = (_builder("127.0.0.1", issuer_name, key.public_key())
               .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                           x509.DNSName("localhost")]), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
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


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca = _make_ca("SeatGuard test CA")
    wrong = _make_ca("Some other CA")
    server_key, server = _make_server(ca)
    pinned_key, pinned = _make_server(None)
    return Pki(_write(d / "ca.pem", ca[1]), _write(d / "wrong-ca.pem", wrong[1]),
               _write(d / "server.pem", server, server_key), _write(d / "pinned.pem", pinned, pinned_key))


# ---- a collector behind TLS ---------------------------------------------------------------------------


class TlsCollector(CollectorProcess):
    """A collector data folder served over HTTPS on loopback by the TLS launcher."""

    def __init__(self, data: Path, cert: Path, trust: Path) -> None:
        super().__init__(data)
        self.cert, self.trust = cert, trust
        self.url = f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.data / "serve.out").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", TLS_LAUNCHER, str(self.data), str(self.port), str(self.cert),
             str(self.cert.with_suffix(".key"))], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for(self.healthy, 30, what="TLS collector /healthz")

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"TLS launcher exited: {(self.data / 'serve.out').read_text()[-2000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=2, verify=str(self.trust)).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture(scope="module")
def tls_collector(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TlsCollector]:
    c = TlsCollector(tmp_path_factory.mktemp("tls") / "collector", pki.server, pki.ca)
    c.start()
    yield c
    c.kill()


def _home(path: Path, tls_verify: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "agent.toml").write_text(f'tls_verify = "{tls_verify}"\nbatch_max_events = 25\n', encoding="utf-8")
    return path


def _enroll(c: TlsCollector, home: Path, name: str, token: str | None = None,
            keep_ca_env: bool = False) -> subprocess.CompletedProcess[str]:
    return agent("enroll", "--home", str(home), "--collector", c.url, "--token", token or c.token(), "--name", name,
                 keep_ca_env=keep_ca_env)


# ---- tests ------------------------------------------------------------------------------------------------


def test_agent_enrolls_and_replays_over_tls_with_the_ca_bundle(tls_collector: TlsCollector, pki: Pki,
                                                              tmp_path: Path) -> None:
    home = _home(tmp_path / "home", pki.ca)
    enrolled = _enroll(tls_collector, home, "tls-pc-1")
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout)["agent_id"] == "tls-pc-1"
    events = write_events(tmp_path / "events.jsonl", 100)
    replay = agent("replay", "--home", str(home), "--wait", str(events), extra=FAST)
    assert replay.returncode == 0, replay.stderr
    out = json.loads(replay.stdout)
    assert out["spooled_events"] == 100 and out["drained"] == 1 and out["spool_depth_events"] == 0
    assert tls_collector.stats("tls-pc-1")["events"] == 100


def test_wrong_ca_fails_enrollment_with_a_certificate_error_and_keeps_the_token(
        tls_collector: TlsCollector, pki: Pki, tmp_path: Path) -> None:
    token = tls_collector.token()
    home = _home(tmp_path / "home", pki.wrong_ca)
    refused = _enroll(tls_collector, home, "tls-pc-2", token)
    assert refused.returncode == 2
    assert "not reachable" in refused.stderr and "certificate verify failed" in refused.stderr, refused.stderr
    assert not (home / "enrollment.json").exists()
    # nothing reached the collector: the same one-time token still works once the CA is right
    _home(home, pki.ca)
    again = _enroll(tls_collector, home, "tls-pc-2", token)
    assert again.returncode == 0, again.stderr


def test_wrong_ca_keeps_batches_in_the_spool_and_status_says_why(tls_collector: TlsCollector, pki: Pki,
                                                                 tmp_path: Path) -> None:
    home = _home(tmp_path / "home", pki.ca)
    assert _enroll(tls_collector, home, "tls-pc-3").returncode == 0
    _home(home, pki.wrong_ca)  # e.g. the collector's certificate was replaced by one from another CA
    events = write_events(tmp_path / "events.jsonl", 50)
    replay = subprocess.Popen([AGENT, "replay", "--home", str(home), "--wait", str(events)],
                              env=agent_env(FAST), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def failed_upload() -> dict[str, object] | None:
            status = json.loads(agent("status", "--home", str(home), "--json").stdout)
            last = status["spool"]["last_upload_status"] or ""
            return status if "CERTIFICATE_VERIFY_FAILED" in last or "certificate verify failed" in last else None

        status = wait_for(failed_upload, 60, what="status to report the certificate failure")
        assert status["spool"]["depth_events"] == 50  # type: ignore[index]
        assert tls_collector.stats("tls-pc-3")["events"] == 0
    finally:
        replay.kill()
        replay.communicate(timeout=30)


def test_agent_accepts_a_pinned_self_signed_certificate(tmp_path: Path, pki: Pki) -> None:
    c = TlsCollector(tmp_path / "collector", pki.pinned, pki.pinned)
    c.start()
    try:
        home = _home(tmp_path / "home", pki.pinned)
        enrolled = _enroll(c, home, "tls-pinned")
        assert enrolled.returncode == 0, enrolled.stderr
        # the CA bundle of another deployment does not vouch for this certificate
        other = _enroll(c, _home(tmp_path / "other", pki.ca), "tls-other")
        assert other.returncode == 2 and "certificate verify failed" in other.stderr
    finally:
        c.kill()


def test_plain_http_to_a_tls_port_fails_clearly(tls_collector: TlsCollector, pki: Pki, tmp_path: Path) -> None:
    home = _home(tmp_path / "home", pki.ca)
    proc = agent("enroll", "--home", str(home), "--collector", tls_collector.url.replace("https://", "http://"),
                 "--token", "sgt_x", "--name", "plain")
    assert proc.returncode == 2 and "not reachable" in proc.stderr, proc.stderr


def test_tls_verify_wins_over_requests_ca_bundle(tls_collector: TlsCollector, pki: Pki, tmp_path: Path) -> None:
    # A PC whose environment names the public CA bundle must still trust only the configured CA.
    home = _home(tmp_path / "home", pki.ca)
    env_bundle = {"REQUESTS_CA_BUNDLE": str(pki.wrong_ca), "CURL_CA_BUNDLE": str(pki.wrong_ca)}
    enrolled = agent("enroll", "--home", str(home), "--collector", tls_collector.url, "--token", tls_collector.token(),
                     "--name", "tls-env", extra=env_bundle, keep_ca_env=True)
    assert enrolled.returncode == 0, enrolled.stderr
