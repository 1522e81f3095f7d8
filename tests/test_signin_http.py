"""Per-client limits on /login and /api/v1/enroll against a real ``serve``, with and without a trusted proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from collector.service import Collector
from contract import wire
from tests.conftest import CollectorProcess

LIMITS = "enroll_rate_burst = 3\nenroll_rate_per_min = 1.0\nlogin_rate_burst = 2\nlogin_rate_per_min = 1.0\n"


def _serve(data: Path, extra: str = "") -> CollectorProcess:
    c = CollectorProcess(data)
    (data / "collector.toml").write_text(LIMITS + extra, encoding="utf-8")
    c.start()
    return c


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = _serve(tmp_path_factory.mktemp("limits-direct") / "collector")
    yield c
    c.kill()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    trusted = 'trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n'
    c = _serve(tmp_path_factory.mktemp("limits-proxied") / "collector", trusted)
    yield c
    c.kill()


def _enroll(c: CollectorProcess, token: str = "sgt_not-a-real-token", name: str = "pc-x",
            forwarded: str | None = None) -> requests.Response:
    body = {"token": token, "public_key": wire.public_key_b64(wire.new_agent_key().public_key()), "name": name}
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return requests.post(c.url + "/api/v1/enroll", json=body, headers=headers, timeout=30)


def _sign_in(c: CollectorProcess, name: str, password: str, headers: dict[str, str] | None = None) -> requests.Response:
    """The sign-in form, as a browser behind ``headers`` would post it (its cookie passed by hand: it may be Secure)."""
    form = requests.get(c.url + "/login?lang=en", headers=headers, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text[:300]
    cookie = "; ".join(f"{k}={v}" for k, v in form.cookies.items())
    return requests.post(c.url + "/login?lang=en", data={"name": name, "password": password, "csrf": csrf.group(1)},
                         headers={**(headers or {}), "Cookie": cookie}, allow_redirects=False, timeout=30)


def _metric(c: CollectorProcess, route: str) -> float:
    text = requests.get(c.url + "/metrics", timeout=10).text
    found = re.search(rf'^seatguard_rate_limited_total{{route="{route}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def _remotes(c: CollectorProcess, actor: str) -> list[str | None]:
    collector = Collector.open(c.data)
    try:
        return [r["remote"] for r in collector.access.search(actor=actor, action="login")]
    finally:
        collector.close()


def test_enroll_limits_failures_per_client_not_successes(direct: CollectorProcess) -> None:
    for n in range(5):  # more PCs than the burst, behind one address: successes are given back
        assert _enroll(direct, direct.token(), f"pc-ok{n}").status_code == 200
    for _ in range(3):
        refused = _enroll(direct)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    limited = _enroll(direct)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # nobody is trusted to name the client: a forged X-Forwarded-For is no fresh bucket
    assert _enroll(direct, forwarded="198.51.100.1").status_code == 429
    assert _enroll(direct, direct.token(), "pc-late").status_code == 429  # even a good token waits now
    assert _metric(direct, "enroll") == 3
    log = (direct.data / "collector.log").read_text(encoding="utf-8")
    assert log.count("enroll: client 127.0.0.1 is over its limit") == 1  # one line per burst, not per request


def test_login_limits_failures_per_client_and_ignores_forwarded_for(direct: CollectorProcess) -> None:
    ok = _sign_in(direct, "admin", "wrong")
    assert ok.status_code == 401 and "Wrong user name or password" in ok.text
    assert _sign_in(direct, "nobody", "wrong", {"X-Forwarded-For": "203.0.113.50"}).status_code == 401
    limited = _sign_in(direct, "admin", "wrong", {"X-Forwarded-For": "203.0.113.51"})
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
    assert int(limited.headers["Retry-After"]) >= 1
    assert _metric(direct, "login") == 1
    assert _remotes(direct, "nobody") == ["127.0.0.1"]  # the audit keeps the real peer, not the header


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(proxied: CollectorProcess) -> None:
    for _ in range(3):
        assert _enroll(proxied, forwarded="203.0.113.7").status_code == 401
    assert _enroll(proxied, forwarded="203.0.113.7").status_code == 429
    assert _enroll(proxied, forwarded="203.0.113.8").status_code == 401  # another client behind the proxy
    # what the client itself wrote left of the proxy's entry cannot move it; trusted hops are skipped
    assert _enroll(proxied, forwarded="192.0.2.99, 203.0.113.7").status_code == 429
    assert _enroll(proxied, forwarded="203.0.113.7, 10.1.2.3").status_code == 429
    assert _enroll(proxied, forwarded="192.0.2.99, 203.0.113.9, 10.1.2.3").status_code == 401
    assert _metric(proxied, "enroll") == 3


def test_behind_a_trusted_proxy_sign_in_sees_the_client_and_the_scheme(proxied: CollectorProcess) -> None:
    outside = {"X-Forwarded-For": "203.0.113.20"}
    plain = _sign_in(proxied, "admin", "wrong", outside)  # a remote client over plain http may not sign in
    assert plain.status_code == 403 and "HTTPS" in plain.text
    tls = {**outside, "X-Forwarded-Proto": "https"}
    assert _sign_in(proxied, "someone", "wrong", tls).status_code == 401
    assert _sign_in(proxied, "someone", "wrong", tls).status_code == 401
    assert _sign_in(proxied, "someone", "wrong", tls).status_code == 429
    assert _sign_in(proxied, "someone", "wrong", {"X-Forwarded-For": "203.0.113.21",
                                                  "X-Forwarded-Proto": "https"}).status_code == 401
    assert _remotes(proxied, "someone") == ["203.0.113.21", "203.0.113.20", "203.0.113.20"]
