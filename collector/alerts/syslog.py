"""Syslog (RFC 5424) over UDP (RFC 5426) and TCP with octet-counting framing (RFC 6587).

One alert is one message: ``<PRI>1 TIMESTAMP HOSTNAME seatguard PROCID MSGID [SD] BOM MSG`` with
MSGID ``alert.raised`` / ``alert.updated`` and the alert as the structured-data element
``seatguard@32473`` (32473 is the private enterprise number RFC 5612 reserves for documentation;
ask IANA for your own before relying on it). MSG is the English title, reasons and link. A UDP
message is kept within 2048 octets by shortening MSG. Plain TCP carries no TLS: send it over a
network you trust, or to a local relay.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from typing import Any

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

    def _connected(self) -> socket.socket:
        sock = self._sock
        if sock is not None and not _peer_closed(sock):
            return sock
        self._drop()
        sock = socket.create_connection(self.address, timeout=self.timeout_s)
        self._sock = sock
        return sock

    def send(self, payload: dict[str, Any]) -> None:
        message = format_message(payload, self.facility)
        frame = str(len(message)).encode() + b" " + message
        with self._lock:
            try:
                self._connected().sendall(frame)
            except OSError as exc:
                self._drop()
                raise DeliveryFailed(f"syslog tcp {self.address[0]}:{self.address[1]}: {exc}") from exc

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def close(self) -> None:
        with self._lock:
            self._drop()


def _peer_closed(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
