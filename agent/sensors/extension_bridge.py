"""Loopback endpoint for the SeatGuard browser extension (page.open with URL and title).

The extension (packaging/browser-extension) POSTs ``{"url": ..., "title": ...}`` to
``http://127.0.0.1:<port>/page`` with the per-install secret in the ``X-SeatGuard-Secret`` header.
The server listens on 127.0.0.1 only; the secret is compared in constant time; requests from web
pages (an http(s) Origin) or for another Host are refused, so a web page can neither forge pages nor
reach the endpoint through DNS rebinding. :class:`PageService` holds the logic, the HTTP handler is thin.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agent.sensors.base import Clock, EventSink, Sensor
from agent.sensors.errors import BridgeError
from agent.sensors.policy import AgentPolicy

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-SeatGuard-Secret"
SECRET_FILE = "extension-secret"
CONFIG_FILE = "seatguard-config.json"
MAX_URL = 65536  # contract.schema.MAX_STR: a longer URL is cut (by the extension first), never refused: an
# insider's padding (a fragment a hash router ignores) would otherwise keep the customer page unreported
MAX_TITLE = 1024
MAX_BODY = 6 * (MAX_URL + MAX_TITLE) + 4096  # both as JSON may escape them at worst (6 bytes a character)
_SCHEMES = ("http://", "https://", "file://")
_EXTENSION_ORIGINS = ("chrome-extension://", "extension://", "moz-extension://")


class PageService:
    """Checks one report from the extension and turns it into page.open fields."""

    def __init__(self, secret: str, port: int, emit: Callable[[dict[str, Any]], None]) -> None:
        self._secret = secret.encode()
        self.port = port
        self._emit = emit
        self.accepted = 0
        self.rejected = 0

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """(HTTP status, reason) for one request; 204 means a page.open was emitted."""
        status, reason = self._check(method, path, {k.lower(): v for k, v in headers.items()}, body)
        if status == 204:
            self.accepted += 1
        else:
            self.rejected += 1
        return status, reason

    def _check(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        if path != "/page":
            return 404, "not found"
        if method != "POST":
            return 405, "POST only"
        host = headers.get("host", "")
        if host not in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            return 403, "wrong host"
        origin = headers.get("origin", "")
        if origin and not origin.startswith(_EXTENSION_ORIGINS):
            return 403, "web pages may not report pages"
        given = headers.get(SECRET_HEADER.lower(), "").encode()
        if not hmac.compare_digest(given, self._secret):
            return 403, "bad secret"
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, "body must be JSON"
        if not isinstance(data, dict):
            return 400, "body must be a JSON object"
        url, title = data.get("url"), data.get("title", "")
        if not isinstance(url, str) or not isinstance(title, str):
            return 400, "url and title must be strings"
        if not url.startswith(_SCHEMES):
            return 400, "url must be http(s) or file"
        app = browser_name(headers.get("user-agent", ""))
        self._emit({"url": url[:MAX_URL], "title": title[:MAX_TITLE], "app": app})
        return 204, "ok"


def browser_name(user_agent: str) -> str:
    for marker, name in (("Edg/", "msedge"), ("OPR/", "opera"), ("Brave", "brave"), ("Chrome/", "chrome")):
        if marker in user_agent:
            return name
    return "browser"


class _Handler(BaseHTTPRequestHandler):
    server_version = "SeatGuardBridge/1"
    service: PageService  # set on a per-server subclass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            status, reason = 413, "body too large"
        else:
            body = self.rfile.read(length) if length > 0 else b""
            status, reason = self.service.handle(self.command, self.path, dict(self.headers.items()), body)
        if status == 204:
            self.send_response(204)
            self.end_headers()
            return
        payload = json.dumps({"error": reason}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = _answer
    do_GET = _answer
    do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("bridge: %s", format % args)


def load_secret(home: Path) -> str:
    """The per-install secret kept in the agent's home (created, owner-only, on first use)."""
    path = home / SECRET_FILE
    try:
        text = path.read_text().strip()
        if text:
            return text
    except FileNotFoundError:
        pass  # first start: make one below
    home.mkdir(parents=True, exist_ok=True)
    text = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    return text


def install_extension(source: Path, target: Path, port: int, secret: str) -> Path:
    """Copy the unpacked extension to ``target`` and write its config (port and secret) into it."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    config = target / CONFIG_FILE
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"port": port, "secret": secret}, fh)
    return target


class ExtensionBridgeSensor(Sensor):
    name = "extension_bridge"

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None, secret: str | None = None) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._given_secret = secret
        self.secret = ""
        self.service: PageService | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server is not None else 0

    def start(self) -> None:
        if self._server is not None:
            return
        if self._given_secret:
            self.secret = self._given_secret
        else:
            self.secret = load_secret(self.home) if self.home else secrets.token_urlsafe(32)
        try:
            self._server = self._listen()
        except BridgeError as exc:
            self.unavailable(str(exc))
            return
        self.service = PageService(self.secret, self.port, self._page)
        self._server.RequestHandlerClass = type("BridgeHandler", (_Handler,), {"service": self.service})
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="sensor-extension-bridge", daemon=True)
        self._thread.start()

    def _listen(self) -> ThreadingHTTPServer:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", self.policy.extension_port), _Handler)
        except OSError as exc:
            raise BridgeError(f"cannot listen on 127.0.0.1:{self.policy.extension_port}: {exc}") from exc
        server.daemon_threads = True
        return server

    def _page(self, fields: dict[str, Any]) -> None:
        self.emit("page.open", fields)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["port"] = self.port
        if self.service is not None:
            out["accepted"] = self.service.accepted
            out["rejected"] = self.service.rejected
        return out
