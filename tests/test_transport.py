"""The agent's HTTP transport: replies, unreachable collectors and proxies from the environment."""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agent.transport import HttpTransport, TransportError
from tests.tls_fixtures import make_pki, server_context


class _Target(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/text":
            reply, ctype = b"<html>a proxy's error page</html>", "text/html"
        else:
            reply, ctype = json.dumps({"path": self.path, "got": body.decode()}).encode(), "application/json"
        self.send_response(201)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


class _Proxy(BaseHTTPRequestHandler):
    """A forwarding HTTP proxy that remembers the request lines it was asked for."""

    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        _Proxy.seen.append(f"{self.command} {self.path}")
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        conn.request("POST", url.path, body=body, headers={"Content-Type": self.headers["Content-Type"]})
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.getheader("Content-Type") or "")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def target() -> Iterator[str]:
    with _serve(_Target) as url:
        yield url


@pytest.fixture()
def proxy() -> Iterator[str]:
    _Proxy.seen = []
    with _serve(_Proxy) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
                 "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_json_and_non_json_replies(target: str) -> None:
    t = HttpTransport(target + "/", timeout_s=5)
    try:
        reply = t.post("/api/v1/batches", b'{"a":1}')
        assert reply.status == 201 and reply.body == {"path": "/api/v1/batches", "got": '{"a":1}'}
        again = t.post("/again", b"{}")  # the kept-alive connection is reused
        assert again.body["path"] == "/again"
        html = t.post("/text", b"{}")
        assert html.status == 201 and html.body == {"raw": "<html>a proxy's error page</html>"}
    finally:
        t.close()


def test_an_unreachable_collector_is_a_transport_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = HttpTransport(f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(TransportError, match="NewConnectionError|refused"):
        t.post("/api/v1/batches", b"{}")


def test_the_proxy_named_by_the_environment_carries_the_upload(target: str, proxy: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", proxy)
    t = HttpTransport(target, timeout_s=5)
    reply = t.post("/api/v1/batches", b'{"n":2}')
    assert reply.status == 201 and reply.body["got"] == '{"n":2}'
    assert _Proxy.seen == [f"POST {target}/api/v1/batches"]


def test_no_proxy_sends_the_upload_direct(target: str, proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", proxy)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    reply = HttpTransport(target, timeout_s=5).post("/api/v1/batches", b"{}")
    assert reply.status == 201 and _Proxy.seen == []


class _Tunnel(BaseHTTPRequestHandler):
    """A CONNECT proxy: it relays bytes both ways and never sees inside the TLS it carries."""

    seen: list[str] = []

    def do_CONNECT(self) -> None:  # noqa: N802
        _Tunnel.seen.append(self.path)
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.send_response(200, "Connection established")
        self.end_headers()
        conns = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(conns, [], [], 10)
                if not readable:
                    return
                for conn in readable:
                    data = conn.recv(65536)
                    if not data:
                        return
                    (upstream if conn is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()

    def log_message(self, *args: object) -> None:
        pass


def test_https_goes_through_the_proxy_as_a_tunnel_and_the_certificate_is_still_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pki = make_pki(tmp_path / "pki")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    server.socket = server_context(pki).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Tunnel.seen = []
    try:
        target = f"https://127.0.0.1:{server.server_address[1]}"
        with _serve(_Tunnel) as proxy:
            monkeypatch.setenv("https_proxy", proxy)
            reply = HttpTransport(target, timeout_s=5, verify=str(pki.ca)).post("/api/v1/batches", b'{"t":1}')
            assert reply.status == 201 and reply.body["got"] == '{"t":1}'
            assert _Tunnel.seen == [f"127.0.0.1:{server.server_address[1]}"]
            with pytest.raises(TransportError, match="certificate verify failed"):
                HttpTransport(target, timeout_s=5, verify=str(pki.wrong_ca)).post("/api/v1/batches", b"{}")
    finally:
        server.shutdown()
        server.server_close()
