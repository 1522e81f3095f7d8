"""Per-client token buckets for the routes that try a secret: ``/login`` and ``/api/v1/enroll``.

Each client address has a bucket of ``burst`` attempts that refills at ``per_min`` a minute. An
attempt takes one; an attempt that succeeds gives it back, so people who sign in (or PCs that enroll)
behind one NAT are not held up by each other, while guessing from one address is slowed to the
refill rate. IPv6 clients are counted per /64, the block one subscriber usually holds. The buckets
live in this process (bounded: the least recently seen are forgotten first); several collector
processes each keep their own.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from collector.errors import RateLimited

log = logging.getLogger(__name__)
MAX_CLIENTS = 20000


@dataclass
class _Bucket:
    tokens: float
    at: float
    refused: int = 0


def client_key(host: str | None) -> str:
    """The unit a limit applies to: the address, or its /64 for IPv6."""
    if not host:
        return "-"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def retry_after(exc: RateLimited) -> dict[str, str]:
    """The Retry-After header of a 429 answer (whole seconds, at least 1)."""
    return {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}


class RateLimiter:
    def __init__(self, what: str, burst: int, per_min: float, on_refused: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS) -> None:
        self.what = what
        self.burst = float(burst)
        self.rate_s = per_min / 60.0
        self.on_refused = on_refused
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.burst > 0

    def take(self, host: str | None) -> None:
        """Spend one attempt of ``host``'s bucket, or raise :class:`RateLimited` (429, Retry-After)."""
        if not self.enabled:
            return
        key = client_key(host)
        with self._lock:
            bucket = self._refilled(key)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                bucket.refused = 0
                return
            bucket.refused += 1
            wait = (1.0 - bucket.tokens) / self.rate_s if self.rate_s > 0 else 3600.0
            first = bucket.refused == 1
        if first:  # one line per client and burst, not one per refused request
            log.warning("%s: client %s is over its limit of %d attempts (%.3g a minute); refused for %.0f s",
                        self.what, key, int(self.burst), self.rate_s * 60, wait)
        if self.on_refused is not None:
            self.on_refused(self.what)
        raise RateLimited(f"too many {self.what} attempts from this address; try again in {wait:.0f} s",
                          retry_after_s=wait)

    def give_back(self, host: str | None) -> None:
        """An attempt succeeded: it does not count against the client."""
        if not self.enabled:
            return
        with self._lock:
            bucket = self._refilled(client_key(host))
            bucket.tokens = min(self.burst, bucket.tokens + 1.0)

    def _refilled(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate_s)
            bucket.at = now
        return bucket
