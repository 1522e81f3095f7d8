"""The uploader's one-method transport, and its HTTP(S) implementation over urllib3.

The agent talks to one collector, so it needs one keep-alive connection, a TLS trust anchor and
proxy support, not a general HTTP client: urllib3 alone (the engine under ``requests``) keeps the
agent's resident memory about 5 MB smaller than ``requests`` with its charset detection and IDNA tables.

Tests use a real local collector; ``HandlerTransport`` exists for tests that need to script
answers (e.g. a 429 followed by a 200) without monkeypatching anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


class TransportError(Exception):
    """The request did not reach the collector or got no answer (retry later)."""


class Transport(Protocol):
    def post(self, path: str, body: bytes) -> Reply: ...


class HttpTransport:
    """POSTs to the collector through a one-connection urllib3 pool (keep-alive, no retries of its own:
    the uploader owns backoff).

    ``verify`` is True (the certifi CA bundle, as before with ``requests``), False (tests only) or the
    path of a CA bundle or pinned certificate. Environment variables such as ``REQUESTS_CA_BUNDLE``
    never override it. A proxy comes from the usual sources (``HTTPS_PROXY``/``NO_PROXY``, on Windows
    and macOS the system settings) through :func:`urllib.request.getproxies`.
    """

    def __init__(self, base_url: str, timeout_s: float = 30.0, verify: bool | str = True) -> None:
        import urllib3

        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.verify = verify
        self._urllib3 = urllib3
        tls: dict[str, Any] = {}
        if self.base_url.startswith("https:"):
            if verify is False:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                log.warning("TLS certificate checks are off (tls_verify = false): for tests only")
                tls = {"cert_reqs": "CERT_NONE"}
            else:
                tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": verify if isinstance(verify, str) else _certifi()}
        pool: dict[str, Any] = {"num_pools": 1, "maxsize": 1, "retries": False,
                                "timeout": urllib3.Timeout(connect=timeout_s, read=timeout_s), **tls}
        proxy = _proxy_for(self.base_url)
        self._pool: Any = urllib3.ProxyManager(proxy, **pool) if proxy else urllib3.PoolManager(**pool)

    def post(self, path: str, body: bytes) -> Reply:
        errors = self._urllib3.exceptions
        try:
            resp = self._pool.request("POST", self.base_url + path, body=body,
                                      headers={"Content-Type": "application/json"}, redirect=False)
        except errors.SSLError as exc:
            raise TransportError(f"TLS certificate verify failed for {self.base_url}: {_short(exc)}") from exc
        except (errors.HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        content = resp.data
        try:
            parsed = json.loads(content) if content else {}
        except ValueError:
            parsed = {"raw": content[:200].decode("utf-8", "replace")}
        return Reply(resp.status, parsed if isinstance(parsed, dict) else {"value": parsed})

    def close(self) -> None:
        self._pool.clear()


def is_loopback(url: str) -> bool:
    """True when ``url`` names this machine (localhost, 127.0.0.0/8 or ::1)."""
    import ipaddress
    import urllib.parse

    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure(url: str, allow_insecure_http: bool, tls_verify: bool | str = True) -> bool:
    """Refuse a collector URL that is not https:// with certificate checks unless it is loopback or the admin
    allowed it (``allow_insecure_http``); True when the connection is insecure but allowed (heartbeats then
    say ``insecure_transport`` and the admin page marks the agent).

    Over plain http://, or https:// with ``tls_verify = false``, to another machine, anything on the path could
    answer in the collector's place; the signed answers make that visible, verified https:// keeps it from
    happening."""
    from agent.errors import ConfigError

    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"collector URL {url!r} must start with https://")
    if is_loopback(url) or (scheme == "https" and tls_verify is not False):
        return False
    what = "plain http://" if scheme == "http" else "https:// without certificate checks (tls_verify = false)"
    if not allow_insecure_http:
        raise ConfigError(f"collector URL {url} is {what} to another machine: use https:// (verified "
                          "with tls_verify: certifi, a CA bundle or a pinned certificate), or set "
                          "allow_insecure_http = true for a test lab")
    log.warning("%s to %s allowed by allow_insecure_http: answers can be read on the way", what, url)
    return True


def _certifi() -> str:
    import certifi

    return str(certifi.where())


def _proxy_for(url: str) -> str | None:
    """The proxy the system or environment names for ``url``, or None (direct, or bypassed)."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


class HandlerTransport:
    """Calls a function instead of the network: the test seam for scripted collector answers."""

    def __init__(self, handler: Callable[[str, bytes], Reply]) -> None:
        self.handler = handler

    def post(self, path: str, body: bytes) -> Reply:
        return self.handler(path, body)


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "hostname mismatch", "self-signed", "unable to get local issuer"):
        if marker in text:
            return marker
    return text[:120]
