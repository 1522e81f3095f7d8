"""Which reverse proxies are believed about the client's address (setting ``trusted_proxies``).

Nobody is trusted by default: the client is the peer of the TCP connection, and an
``X-Forwarded-For`` header is ignored, whoever sends it. Behind a reverse proxy, name the proxy's
address (or network) here; then, and only for requests whose peer is one of them, the client is the
rightmost address in ``X-Forwarded-For`` that is not a trusted proxy (what a client writes to the left
of it cannot move it), and ``X-Forwarded-Proto`` gives the scheme. uvicorn does that rewriting
(:func:`uvicorn_options`), before any of our code sees the request.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

log = logging.getLogger(__name__)


class AddressList(tuple[str, ...]):
    """A settings type: addresses or CIDR networks, from a TOML list or a comma-separated string."""

    def __new__(cls, raw: Any = ()) -> AddressList:
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple):
            raise ValueError(f"expected a list of addresses, got {raw!r}")
        out = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                raise ValueError(f"{text!r} is not an IP address or CIDR network") from exc
            out.append(str(net.network_address) if net.num_addresses == 1 else str(net))
        return super().__new__(cls, out)

    def __str__(self) -> str:
        return ", ".join(self)


def uvicorn_options(trusted: AddressList) -> dict[str, Any]:
    """uvicorn's proxy-header handling set to exactly ``trusted`` (by default uvicorn trusts loopback)."""
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted)}
