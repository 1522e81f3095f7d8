"""Syslog over TLS (RFC 5425) to a real TLS listener on loopback: verified, kept open, mutual TLS, bad config."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.alerts.config import AlertConfig, host_port
from collector.alerts.errors import AlertConfigError, DeliveryFailed
from collector.alerts.syslog import SD_ID, SyslogTlsChannel
from simulator.testing.alerts import SyslogReceiver, parse_syslog, wait_until
from tests.tls_fixtures import Pki, make_pki, server_context


def _payload(n: int) -> dict[str, Any]:
    alert = {"id": n, "rule": "remote_access", "severity": "high", "agent_id": "pc-1", "team": "cs-a",
             "date": "2026-11-24", "seq": n, "value": 1.0, "threshold": 1.0, "state": "open", "repeats": 0,
             "link": f"/agents/pc-1/timeline?date=2026-11-24#seq-{n}", "title": "remote access tool started",
             "reasons": [{"text": "started AnyDesk"}]}
    return {"event": "alert.raised", "delivery_id": f"d{n}", "alert": alert}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def receiver(pki: Pki) -> Iterator[SyslogReceiver]:
    r = SyslogReceiver(tls=server_context(pki))
    yield r
    r.close()


def _channel(config: AlertConfig) -> SyslogTlsChannel:
    return SyslogTlsChannel(host_port(config.syslog_tls), config.syslog_facility, config.tls_context(), timeout_s=5)


def test_messages_arrive_verified_over_one_kept_connection(receiver: SyslogReceiver, pki: Pki) -> None:
    channel = _channel(AlertConfig(syslog_tls=receiver.tls_address, syslog_tls_ca=str(pki.ca)))
    try:
        channel.send(_payload(1))
        first = channel._sock
        wait_until(lambda: len(receiver.tls_messages) == 1, 10, "the first message")
        for n in (2, 3):  # TLS 1.3 session tickets make the socket readable; that is not a closed peer
            channel.send(_payload(n))
        assert channel._sock is first
        wait_until(lambda: len(receiver.tls_messages) == 3, 10, "three messages")
        assert [parse_syslog(m)["sd"][SD_ID]["seq"] for m in receiver.tls_messages] == ["1", "2", "3"]
        assert receiver.tcp_messages == [] and receiver.tls_errors == []
    finally:
        channel.close()


def test_a_receiver_the_ca_does_not_vouch_for_gets_nothing(receiver: SyslogReceiver, pki: Pki) -> None:
    channel = _channel(AlertConfig(syslog_tls=receiver.tls_address, syslog_tls_ca=str(pki.wrong_ca)))
    with pytest.raises(DeliveryFailed, match="syslog tls 127.0.0.1:.*CERTIFICATE_VERIFY_FAILED"):
        channel.send(_payload(1))
    wait_until(lambda: receiver.tls_errors != [], 10, "the receiver to see the aborted handshake")
    assert receiver.tls_messages == []


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_a_receiver_that_demands_a_client_certificate(pki: Pki, version: str) -> None:
    context = server_context(pki, require_client=True)
    context.maximum_version = getattr(ssl.TLSVersion, version)
    strict = SyslogReceiver(tls=context)
    try:
        anonymous = _channel(AlertConfig(syslog_tls=strict.tls_address, syslog_tls_ca=str(pki.ca)))
        # in TLS 1.3 the refusal comes after the client's handshake is over; the send must fail all the same
        with pytest.raises(DeliveryFailed, match="(?i)certificate|handshake"):
            anonymous.send(_payload(1))
        wait_until(lambda: strict.tls_errors != [], 10, "the receiver to refuse the handshake")
        assert strict.tls_messages == []
        anonymous.close()
        known = _channel(AlertConfig(syslog_tls=strict.tls_address, syslog_tls_ca=str(pki.ca),
                                     syslog_tls_certfile=str(pki.client),
                                     syslog_tls_keyfile=str(pki.client.with_suffix(".key"))))
        known.send(_payload(3))
        wait_until(lambda: len(strict.tls_messages) == 1, 10, "the message over mutual TLS")
        known.close()
    finally:
        strict.close()


@pytest.mark.parametrize("settings, problem", [
    ({"syslog_tls": "127.0.0.1"}, "HOST:PORT"),
    ({"syslog_tls": "127.0.0.1:6514", "syslog_tls_ca": "/nonexistent/ca.pem"}, "cannot be used"),
    ({"syslog_tls": "127.0.0.1:6514", "syslog_tls_keyfile": "/k.pem"}, "needs 'alert_syslog_tls_certfile'"),
    ({"syslog_tls_ca": "/etc/ssl/ca.pem"}, "'alert_syslog_tls' (HOST:PORT) is not"),
])
def test_bad_tls_syslog_settings_fail_at_start(settings: dict[str, str], problem: str) -> None:
    with pytest.raises(AlertConfigError) as caught:
        AlertConfig(**settings)  # type: ignore[arg-type]
    assert problem in str(caught.value)


def test_a_certificate_file_that_is_not_one_fails_at_start(tmp_path: Path, pki: Pki) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(AlertConfigError, match="cannot be used"):
        AlertConfig(syslog_tls="127.0.0.1:6514", syslog_tls_ca=str(pki.ca), syslog_tls_certfile=str(junk))
