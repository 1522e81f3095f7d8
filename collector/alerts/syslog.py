"""Syslog (RFC 5424) over UDP (RFC 5426), TCP with octet-counting framing (RFC 6587), and TLS (RFC 5425).

One alert is one message: ``<PRI>1 TIMESTAMP HOSTNAME seatguard PROCID MSGID [SD] BOM MSG`` with
MSGID ``alert.raised`` / ``alert.updated`` and the alert as the structured-data element
``seatguard@32473`` (32473 is the private enterprise number RFC 5612 reserves for documentation;
ask IANA for your own before relying on it). MSG is the English title, reasons and link. A UDP
message is kept within 2048 octets by shortening MSG. Plain TCP carries no TLS: send it over a
network you trust, or to a local relay; the TLS channel verifies the receiver's certificate and name
and can present a client certificate.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
import time
from typing import Any

from collector.alerts.config import AlertConfig, host_port
from collector.alerts.errors import DeliveryFailed
from collector.alerts.model import rfc3339

SD_ID = "seatguard@32473"
APP_NAME = "seatguard"
UDP_MAX = 2048
BOM = b"\xef\xbb\xbf"
SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5}  # crit, err, warning, notice
SD_FIELDS = ("id", "rule", "severity", "agent_id", "team", "date", "seq", "value", "threshold", "state",
             "repeats", "link")


def _printable(text: str, limit: int) -> str:
    clean = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return clean or "-"


def _param(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(payload: dict[str, Any], facility: int, limit: int | None = None) -> bytes:
    alert = payload["alert"]
    pri = facility * 8 + SEVERITY.get(str(alert.get("severity")), 5)
    header = (f"<{pri}>1 {rfc3339(time.time())} {_printable(socket.gethostname(), 255)} {APP_NAME} "
              f"{os.getpid()} {_printable(str(payload['event']), 32)} ")
    params = [f'{name}="{_param(alert.get(name))}"' for name in SD_FIELDS]
    params.append(f'delivery="{_param(payload.get("delivery_id"))}"')
    sd = f"[{SD_ID} {' '.join(params)}]"
    text = "; ".join([str(alert.get("title", "")), *(str(r["text"]) for r in alert.get("reasons", []))])
    head = (header + sd + " ").encode()
    msg = f"{text} {alert.get('link', '')}".encode()
    if limit is not None and len(head) + len(BOM) + len(msg) > limit:
        room = max(0, limit - len(head) - len(BOM))
        msg = msg[:room].decode("utf-8", errors="ignore").encode()
    return head + BOM + msg


class SyslogUdpChannel:
    name = "syslog_udp"
    durable = True

    def __init__(self, address: tuple[str, int], facility: int) -> None:
        self.address = address
        self.facility = facility

    @classmethod
    def from_config(cls, config: AlertConfig) -> SyslogUdpChannel | None:
        """Settings ``alert_syslog_udp`` (HOST:PORT) and ``alert_syslog_facility``."""
        return cls(host_port(config.syslog_udp), config.syslog_facility) if config.syslog_udp else None

    def send(self, payload: dict[str, Any]) -> None:
        data = format_message(payload, self.facility, UDP_MAX)
        try:
            family, kind, proto, _, addr = socket.getaddrinfo(*self.address, type=socket.SOCK_DGRAM)[0]
            with socket.socket(family, kind, proto) as sock:
                sock.sendto(data, addr)
        except OSError as exc:
            raise DeliveryFailed(f"syslog udp {self.address[0]}:{self.address[1]}: {exc}") from exc

    def close(self) -> None:
        return None


class SyslogTcpChannel:
    """One kept-open connection; a peer that closed it is noticed before the next send."""

    name = "syslog_tcp"
    durable = True

    def __init__(self, address: tuple[str, int], facility: int, timeout_s: float = 5.0) -> None:
        self.address = address
        self.facility = facility
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: AlertConfig) -> SyslogTcpChannel | None:
        """Settings ``alert_syslog_tcp`` (HOST:PORT), ``alert_syslog_facility``, ``alert_webhook_timeout_s``."""
        if not config.syslog_tcp:
            return None
        return cls(host_port(config.syslog_tcp), config.syslog_facility, config.webhook_timeout_s)

    def _connected(self) -> socket.socket:
        sock = self._sock
        if sock is not None and not _peer_closed(sock):
            return sock
        self._drop()
        sock = self._open()
        self._sock = sock
        return sock

    def _open(self) -> socket.socket:
        return socket.create_connection(self.address, timeout=self.timeout_s)

    def send(self, payload: dict[str, Any]) -> None:
        message = format_message(payload, self.facility)
        frame = str(len(message)).encode() + b" " + message
        with self._lock:
            try:
                self._connected().sendall(frame)
            except OSError as exc:  # ssl.SSLError (a refused certificate included) is an OSError
                self._drop()
                raise DeliveryFailed(f"{self.name.replace('_', ' ')} {self.address[0]}:{self.address[1]}: "
                                     f"{exc}") from exc

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def close(self) -> None:
        with self._lock:
            self._drop()


class SyslogTlsChannel(SyslogTcpChannel):
    """RFC 5425: the same octet-counted frames inside TLS, to a receiver whose certificate and host name
    ``context`` verifies (see :meth:`collector.alerts.config.AlertConfig.tls_context`)."""

    name = "syslog_tls"

    def __init__(self, address: tuple[str, int], facility: int, context: ssl.SSLContext,
                 timeout_s: float = 5.0) -> None:
        super().__init__(address, facility, timeout_s)
        self.context = context

    @classmethod
    def from_config(cls, config: AlertConfig) -> SyslogTlsChannel | None:
        """Settings ``alert_syslog_tls`` (HOST:PORT), the ``alert_syslog_tls_*`` files, the facility and timeout."""
        if not config.syslog_tls:
            return None
        return cls(host_port(config.syslog_tls), config.syslog_facility, config.tls_context(),
                   config.webhook_timeout_s)

    def _open(self) -> socket.socket:
        raw = super()._open()
        try:
            sock = self.context.wrap_socket(raw, server_hostname=self.address[0])
        except BaseException:
            raw.close()
            raise
        try:
            _settle(sock, min(1.0, self.timeout_s))
        except BaseException:
            sock.close()
            raise
        return sock


def _settle(sock: ssl.SSLSocket, wait_s: float) -> None:
    """In TLS 1.3 the client's handshake ends before the receiver has checked the client certificate;
    a refusal arrives afterwards, as an alert, and every message sent meanwhile would be lost unseen.
    So wait for the receiver's first word: session tickets mean it accepted us, an alert or a close
    that it did not. A receiver that says nothing within ``wait_s`` is taken to have accepted."""
    if sock.version() != "TLSv1.3":
        return  # TLS 1.2: the handshake itself carries the receiver's verdict
    readable, _, _ = select.select([sock], [], [], wait_s)
    if readable and _tls_read_now(sock) == b"":
        raise ConnectionError("the receiver closed the TLS connection after the handshake "
                              "(was a client certificate required?)")


def _tls_read_now(sock: ssl.SSLSocket) -> bytes | None:
    """Read what a readable TLS socket holds without waiting: None when that was only TLS records such as
    session tickets, b"" when the peer closed. A TLS alert raises its ssl.SSLError."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(1)
    except ssl.SSLWantReadError:
        return None
    finally:
        sock.settimeout(timeout)


def _peer_closed(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        if not isinstance(sock, ssl.SSLSocket):
            return sock.recv(1, socket.MSG_PEEK) == b""
        # TLS: a receiver sends nothing, but TLS 1.3 session tickets arrive after the handshake and
        # make the socket readable; reading consumes them
        return _tls_read_now(sock) == b""
    except OSError:
        return True
