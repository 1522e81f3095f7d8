"""The uploader's one-method transport, and its ``requests`` implementation.

Tests use a real local collector; ``HandlerTransport`` exists for tests that need to script
answers (e.g. a 429 followed by a 200) without monkeypatching anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


class TransportError(Exception):
    """The request did not reach the collector or got no answer (retry later)."""


class Transport(Protocol):
    def post(self, path: str, body: bytes) -> Reply: ...


class RequestsTransport:
    """HTTP(S) through a persistent ``requests`` session."""

    def __init__(self, base_url: str, timeout_s: float = 30.0, verify: bool | str = True) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self.verify = verify
        self._requests = requests

    def post(self, path: str, body: bytes) -> Reply:
        try:
            resp = self._session.post(
                self.base_url + path,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=self.timeout_s,
                # passed per request: requests lets REQUESTS_CA_BUNDLE override a Session's verify
                verify=self.verify,
            )
        except self._requests.exceptions.SSLError as exc:
            raise TransportError(f"TLS certificate verify failed for {self.base_url}: {_short(exc)}") from exc
        except self._requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        try:
            parsed = orjson.loads(resp.content) if resp.content else {}
        except orjson.JSONDecodeError:
            parsed = {"raw": resp.text[:200]}
        return Reply(resp.status_code, parsed if isinstance(parsed, dict) else {"value": parsed})

    def close(self) -> None:
        self._session.close()


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
