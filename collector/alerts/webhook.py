"""HTTP webhook: the payload as a JSON body, signed ``X-SeatGuard-Signature: sha256=<hex>``.

The signature is HMAC-SHA256 over the exact body bytes with the shared secret; receivers compare it
in constant time (:func:`verify`). ``X-SeatGuard-Delivery`` repeats the body's ``delivery_id`` so
that a receiver can drop a retry it already took. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from collector.alerts.config import AlertConfig
from collector.alerts.errors import DeliveryFailed
from collector.alerts.model import rfc3339

SIGNATURE_HEADER = "X-SeatGuard-Signature"
DELIVERY_HEADER = "X-SeatGuard-Delivery"
_RETRY_4XX = (408, 425, 429)


def sign(secret: str | bytes, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookChannel:
    name = "webhook"
    durable = True

    def __init__(self, url: str, secret: str, timeout_s: float = 5.0) -> None:
        self.url = urlsplit(url)
        self.secret = secret.encode()
        self.timeout_s = timeout_s
        self._tls = ssl.create_default_context() if self.url.scheme == "https" else None

    @classmethod
    def from_config(cls, config: AlertConfig) -> WebhookChannel | None:
        """Settings ``alert_webhook_url``, ``alert_webhook_secret``, ``alert_webhook_timeout_s``."""
        if not config.webhook_url:
            return None
        return cls(config.webhook_url, config.webhook_secret, config.webhook_timeout_s)

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self.url.hostname or "", self.url.port
        if self._tls is not None:
            return http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self._tls)
        return http.client.HTTPConnection(host, port, timeout=self.timeout_s)

    def send(self, payload: dict[str, Any]) -> None:
        body = orjson.dumps({**payload, "sent_at": rfc3339(time.time())})
        path = (self.url.path or "/") + (f"?{self.url.query}" if self.url.query else "")
        headers = {"Content-Type": "application/json", "User-Agent": "seatguard-collector",
                   SIGNATURE_HEADER: sign(self.secret, body), DELIVERY_HEADER: str(payload["delivery_id"])}
        conn = self._connection()
        try:
            conn.request("POST", path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read(65536)
            status = answer.status
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryFailed(f"webhook {self.url.hostname}: {exc.__class__.__name__}: {exc}") from exc
        finally:
            conn.close()
        if not 200 <= status < 300:
            permanent = 400 <= status < 500 and status not in _RETRY_4XX
            raise DeliveryFailed(f"webhook {self.url.hostname} answered {status}", permanent=permanent)

    def close(self) -> None:
        return None
