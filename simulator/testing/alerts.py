"""Loopback receivers and a sealing agent, for the alert tests and the alert benchmark.

:class:`WebhookReceiver` (http.server), :class:`SyslogReceiver` (UDP and TCP sockets) listen on
127.0.0.1 only; :func:`parse_syslog` reads an RFC 5424 message independently of the sender's code.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from contract import wire
from contract.schema import format_ts
from simulator.testing.sensors import wait_until as poll_until

LOOPBACK = "127.0.0.1"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.perf_counter() on arrival

    def json(self) -> Any:
        return orjson.loads(self.body)


class WebhookReceiver:
    """A real HTTP server on loopback that records every POST it accepts (2xx).

    It answers with the statuses of ``script`` first, one a request, then with ``status``.
    """

    def __init__(self, status: int = 200, script: list[int] | None = None, port: int = 0) -> None:
        self.status = status
        self.script = list(script or [])
        self.received: list[Received] = []
        self.attempts = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.attempts += 1
                    status = receiver.script.pop(0) if receiver.script else receiver.status
                    if 200 <= status < 300:
                        receiver.received.append(Received(dict(self.headers.items()), body, time.perf_counter()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://{LOOPBACK}:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json() for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _listener() -> socket.socket:
    """A TCP socket listening on a free loopback port, polled every 0.1 s so that it can be stopped."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen()
    sock.settimeout(0.1)
    return sock


class SyslogReceiver:
    """UDP and TCP (octet-counting) syslog listeners on loopback, and a TLS one (RFC 5425) when given a
    server context; ``udp_messages``, ``tcp_messages`` and ``tls_messages`` hold the raw messages."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.udp_messages: list[bytes] = []
        self.tcp_messages: list[bytes] = []
        self.tls_messages: list[bytes] = []
        self.tls_errors: list[str] = []  # handshakes that failed, with the reason
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((LOOPBACK, 0))
        self.udp.settimeout(0.1)
        self.tcp = _listener()
        self.udp_address = f"{LOOPBACK}:{self.udp.getsockname()[1]}"
        self.tcp_address = f"{LOOPBACK}:{self.tcp.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._udp_loop, daemon=True),
                         threading.Thread(target=self._accept_loop, args=(self.tcp, None), daemon=True)]
        self.tls_address = ""
        if tls is not None:
            self.tls = _listener()
            self.tls_address = f"{LOOPBACK}:{self.tls.getsockname()[1]}"
            self._threads.append(threading.Thread(target=self._accept_loop, args=(self.tls, tls), daemon=True))
        for thread in self._threads:
            thread.start()

    def _udp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.udp.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.udp_messages.append(data)

    def _accept_loop(self, listener: socket.socket, tls: ssl.SSLContext | None) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._read_frames, args=(conn, tls), daemon=True).start()

    def _read_frames(self, conn: socket.socket, tls: ssl.SSLContext | None = None) -> None:
        buffer = b""
        into = self.tcp_messages
        if tls is not None:
            into = self.tls_messages
            conn.settimeout(5)
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                with self._lock:
                    self.tls_errors.append(str(exc))
                conn.close()
                return
        conn.settimeout(0.1)
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    if not length.isdigit() or len(rest) < int(length):
                        break
                    with self._lock:
                        into.append(rest[:int(length)])
                    buffer = rest[int(length):]

    def close(self) -> None:
        self._stop.set()
        self.udp.close()
        self.tcp.close()
        if self.tls_address:
            self.tls.close()
        for thread in self._threads:
            thread.join(2)


_HEADER = re.compile(rb"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")


def parse_syslog(raw: bytes) -> dict[str, Any]:
    """Parse one RFC 5424 message (header, structured data, message); raise ValueError if malformed."""
    m = _HEADER.match(raw)
    if m is None:
        raise ValueError(f"not an RFC 5424 header: {raw[:80]!r}")
    pri = int(m.group(1))
    datetime.fromisoformat(m.group(2).decode())
    rest = raw[m.end():].decode("utf-8")
    sd: dict[str, dict[str, str]] = {}
    if rest.startswith("-"):
        rest = rest[1:]
    while rest.startswith("["):
        end_id = rest.index(" ") if " " in rest else -1
        sd_id = rest[1:end_id]
        pos, params = end_id, {}
        while rest[pos] == " ":
            eq = rest.index("=", pos)
            name = rest[pos + 1:eq]
            if not name or any(c in name for c in ' ="]') or len(name) > 32:
                raise ValueError(f"bad SD-PARAM name {name!r}")
            if rest[eq + 1] != '"':
                raise ValueError("SD-PARAM value must be quoted")
            value, i = [], eq + 2
            while rest[i] != '"':
                if rest[i] == "\\" and rest[i + 1] in '"\\]':
                    value.append(rest[i + 1])
                    i += 2
                    continue
                if rest[i] in '"]':
                    raise ValueError("unescaped character in SD-PARAM value")
                value.append(rest[i])
                i += 1
            params[name] = "".join(value)
            pos = i + 1
        if rest[pos] != "]":
            raise ValueError("SD-ELEMENT not closed")
        sd[sd_id] = params
        rest = rest[pos + 1:]
    msg = rest[1:] if rest.startswith(" ") else rest
    return {"facility": pri // 8, "severity": pri % 8, "timestamp": m.group(2).decode(),
            "hostname": m.group(3).decode(), "app": m.group(4).decode(), "procid": m.group(5).decode(),
            "msgid": m.group(6).decode(), "sd": sd, "bom": msg.startswith("\ufeff"), "msg": msg.lstrip("\ufeff")}


class SealedAgent:
    """An enrolled agent that seals and signs its batches like the real one (wire protocol v1); its events
    and seals are stamped with ``clock`` (anything with ``time()``, such as a ManualClock; default: now)."""

    def __init__(self, collector: Any, name: str, team: str = "cs-a", shift: str | None = None,
                 clock: Any = None) -> None:
        self.clock = clock
        token = collector.enrollment.create_token(team, "agent", shift)
        self.key = wire.new_agent_key()
        answer = collector.enrollment.enroll({"token": token, "public_key": wire.public_key_b64(self.key.public_key()),
                                              "name": name})
        self.collector_key = wire.load_x25519_public(answer["collector_key"])
        self.signing_keys: dict[str, str] = answer["signing_keys"]  # what the real agent checks receipts with
        self.agent_id = name
        self.prev = wire.GENESIS_HASH
        self.batch_seq = 0
        self.seq = 0

    def event(self, kind: str, ts: datetime | None = None, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return {"schema": 1, "agent_id": self.agent_id, "seq": self.seq, "ts": format_ts(ts or self._now()),
                "kind": kind, **fields}

    def _now(self) -> datetime:
        return datetime.now(UTC) if self.clock is None else datetime.fromtimestamp(self.clock.time(), UTC)

    def seal(self, events: list[dict[str, Any]]) -> bytes:
        self.batch_seq += 1
        body, self.prev = wire.seal_batch(agent_id=self.agent_id, batch_seq=self.batch_seq,
                                          prev_batch_hash=self.prev, events=events,
                                          sealed_at=format_ts(self._now()),
                                          collector_key=self.collector_key, agent_key=self.key)
        return body

    def restamp(self, recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Recorded events as this agent's own: kind, ts and fields kept, agent_id and seq renumbered."""
        out = []
        for e in recorded:
            fields = {k: v for k, v in e.items() if k not in ("schema", "agent_id", "seq", "ts", "kind")}
            out.append(self.event(e["kind"], datetime.fromisoformat(e["ts"]), **fields))
        return out


def wait_until(cond: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
    """Poll ``cond`` until it is truthy; AssertionError after ``timeout`` seconds."""
    return poll_until(cond, timeout, what, every=0.02)


def open_collector(data: Any, db_url: str | None = None) -> Any:
    """``seatguard-collector init`` a data folder (its printed admin password discarded) and open it;
    ``db_url``: a PostgreSQL database instead of SQLite in the folder."""
    from collector.cli import main as collector_main
    from collector.service import Collector

    with contextlib.redirect_stdout(io.StringIO()):
        if collector_main(["init", "--data", str(data), *(["--db", db_url] if db_url else [])]) != 0:
            raise AssertionError(f"init of {data} failed")
    return Collector.open(data)


def install(collector: Any, config: Any, clock: Any = None, channels: Any = None) -> Any:
    """Give ``collector`` an alert service built from ``config``, replacing (and closing) the one it had."""
    return collector.install_alerts(collector.build_alert_service(config, clock, channels))


def mount_routes(app: Any, collector: Any) -> None:
    """Register the alert routes on ``app`` unless the collector's app already has them."""
    from collector.alerts.routes import register

    if not any(getattr(r, "path", "") == "/api/v1/alerts" for r in app.routes):
        register(app, collector)
