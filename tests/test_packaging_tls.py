"""TLS between agent and collector: the agent verifies the collector certificate (``tls_verify``).

A throw-away CA and server certificate are made with ``cryptography``; the collector is served with
``serve --ssl-certfile/--ssl-keyfile`` on loopback (tests/tls_fixtures.py). The agent enrolls and
replays with ``tls_verify`` set to the CA bundle or to a pinned self-signed certificate, and fails
with a certificate error when given the wrong CA.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AGENT, wait_for, write_events
from tests.tls_fixtures import Pki, TlsCollector, make_pki

FAST = {"SEATGUARD_AGENT_BACKOFF_MIN_S": "0.05", "SEATGUARD_AGENT_BACKOFF_MAX_S": "0.2"}
# CA bundles some HTTP clients take from the environment; the agent's tls_verify must win over them
# (see test_tls_verify_wins_over_requests_ca_bundle).
CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def agent_env(extra: dict[str, str] | None = None, keep_ca_env: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if keep_ca_env or k not in CA_ENV}
    return {**env, **(extra or {})}


def agent(*args: str, extra: dict[str, str] | None = None, keep_ca_env: bool = False,
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=120,
                          env=agent_env(extra, keep_ca_env))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_collector(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TlsCollector]:
    c = TlsCollector(tmp_path_factory.mktemp("tls") / "collector", pki.server, pki.ca)
    c.start()
    yield c
    c.kill()


def _home(path: Path, tls_verify: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "agent.toml").write_text(f'tls_verify = "{tls_verify}"\nbatch_max_events = 25\n', encoding="utf-8")
    return path


def _enroll(c: TlsCollector, home: Path, name: str, token: str | None = None,
            keep_ca_env: bool = False) -> subprocess.CompletedProcess[str]:
    return agent("enroll", "--home", str(home), "--collector", c.url, "--token", token or c.token(), "--name", name,
                 keep_ca_env=keep_ca_env)


# ---- tests ------------------------------------------------------------------------------------------------


def test_agent_enrolls_and_replays_over_tls_with_the_ca_bundle(tls_collector: TlsCollector, pki: Pki,
                                                              tmp_path: Path) -> None:
    home = _home(tmp_path / "home", pki.ca)
    enrolled = _enroll(tls_collector, home, "tls-pc-1")
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout)["agent_id"] == "tls-pc-1"
    events = write_events(tmp_path / "events.jsonl", 100)
    replay = agent("replay", "--home", str(home), "--wait", str(events), extra=FAST)
    assert replay.returncode == 0, replay.stderr
    out = json.loads(replay.stdout)
    assert out["spooled_events"] == 100 and out["drained"] == 1 and out["spool_depth_events"] == 0
    assert tls_collector.stats("tls-pc-1")["events"] == 100


def test_wrong_ca_fails_enrollment_with_a_certificate_error_and_keeps_the_token(
        tls_collector: TlsCollector, pki: Pki, tmp_path: Path) -> None:
    token = tls_collector.token()
    home = _home(tmp_path / "home", pki.wrong_ca)
    refused = _enroll(tls_collector, home, "tls-pc-2", token)
    assert refused.returncode == 2
    assert "not reachable" in refused.stderr and "certificate verify failed" in refused.stderr, refused.stderr
    assert not (home / "enrollment.json").exists()
    # nothing reached the collector: the same one-time token still works once the CA is right
    _home(home, pki.ca)
    again = _enroll(tls_collector, home, "tls-pc-2", token)
    assert again.returncode == 0, again.stderr


def test_wrong_ca_keeps_batches_in_the_spool_and_status_says_why(tls_collector: TlsCollector, pki: Pki,
                                                                 tmp_path: Path) -> None:
    home = _home(tmp_path / "home", pki.ca)
    assert _enroll(tls_collector, home, "tls-pc-3").returncode == 0
    _home(home, pki.wrong_ca)  # e.g. the collector's certificate was replaced by one from another CA
    events = write_events(tmp_path / "events.jsonl", 50)
    replay = subprocess.Popen([AGENT, "replay", "--home", str(home), "--wait", str(events)],
                              env=agent_env(FAST), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def failed_upload() -> dict[str, object] | None:
            status = json.loads(agent("status", "--home", str(home), "--json").stdout)
            last = status["spool"]["last_upload_status"] or ""
            return status if "CERTIFICATE_VERIFY_FAILED" in last or "certificate verify failed" in last else None

        status = wait_for(failed_upload, 60, what="status to report the certificate failure")
        assert status["spool"]["depth_events"] == 50  # type: ignore[index]
        assert tls_collector.stats("tls-pc-3")["events"] == 0
    finally:
        replay.kill()
        replay.communicate(timeout=30)


def test_agent_accepts_a_pinned_self_signed_certificate(tmp_path: Path, pki: Pki) -> None:
    c = TlsCollector(tmp_path / "collector", pki.pinned, pki.pinned)
    c.start()
    try:
        home = _home(tmp_path / "home", pki.pinned)
        enrolled = _enroll(c, home, "tls-pinned")
        assert enrolled.returncode == 0, enrolled.stderr
        # the CA bundle of another deployment does not vouch for this certificate
        other = _enroll(c, _home(tmp_path / "other", pki.ca), "tls-other")
        assert other.returncode == 2 and "certificate verify failed" in other.stderr
    finally:
        c.kill()


def test_plain_http_to_a_tls_port_fails_clearly(tls_collector: TlsCollector, pki: Pki, tmp_path: Path) -> None:
    home = _home(tmp_path / "home", pki.ca)
    proc = agent("enroll", "--home", str(home), "--collector", tls_collector.url.replace("https://", "http://"),
                 "--token", "sgt_x", "--name", "plain")
    assert proc.returncode == 2 and "not reachable" in proc.stderr, proc.stderr


def test_tls_verify_wins_over_requests_ca_bundle(tls_collector: TlsCollector, pki: Pki, tmp_path: Path) -> None:
    # A PC whose environment names the public CA bundle must still trust only the configured CA.
    home = _home(tmp_path / "home", pki.ca)
    env_bundle = {"REQUESTS_CA_BUNDLE": str(pki.wrong_ca), "CURL_CA_BUNDLE": str(pki.wrong_ca)}
    enrolled = agent("enroll", "--home", str(home), "--collector", tls_collector.url, "--token", tls_collector.token(),
                     "--name", "tls-env", extra=env_bundle, keep_ca_env=True)
    assert enrolled.returncode == 0, enrolled.stderr
