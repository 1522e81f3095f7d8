"""Plain http:// to a collector that is not loopback is refused at enroll and at run (issue 17, item 3).

The non-loopback address is real: a dummy network interface (``ip link add ... type dummy``), or a second
address on ``lo`` where the kernel has no dummy module, gives this machine 10.99.17.1, and the collector
listens on it. Either needs root (CAP_NET_ADMIN); without it the end-to-end test is skipped with that reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.errors import ConfigError
from agent.transport import is_loopback, require_secure
from tests.conftest import AGENT, FAST_AGENT_ENV, CollectorProcess, free_port, wait_for
from tests.test_signed_answers import _admin, _events

IFACE, ADDRESS = "sgrc17", "10.99.17.1"


def test_only_loopback_may_use_plain_http() -> None:
    for url in ("http://127.0.0.1:8000", "http://127.8.9.1", "http://localhost:1", "http://[::1]:8000"):
        assert is_loopback(url)
        require_secure(url, False)
    require_secure("https://seatguard.example:8443", False)
    for url in (f"http://{ADDRESS}:8000", "http://seatguard.example", "http://127.0.0.1.example.com"):
        assert not is_loopback(url)
        with pytest.raises(ConfigError, match="plain http://"):
            require_secure(url, False)
        require_secure(url, True)  # the explicit test-lab setting
    with pytest.raises(ConfigError, match="https://"):
        require_secure("ftp://seatguard.example", True)
    # https:// without certificate checks is no better than http:// outside loopback
    assert require_secure("https://127.0.0.1:8443", False, False) is False
    assert require_secure("https://seatguard.example", False, "/etc/seatguard/ca.pem") is False
    with pytest.raises(ConfigError, match="without certificate checks"):
        require_secure("https://seatguard.example", False, False)
    assert require_secure("https://seatguard.example", True, False) is True
    assert require_secure(f"http://{ADDRESS}", True) is True, "insecure but allowed: reported in heartbeats"


@pytest.fixture
def lab_address() -> Iterator[str]:
    """A non-loopback address of this machine: on a dummy interface, or (kernels without the dummy module)
    as a second address of ``lo``; removed afterwards."""
    def ip(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)

    try:
        made = ip("link", "add", IFACE, "type", "dummy")
    except FileNotFoundError:
        pytest.skip("the ip command (iproute2) is not installed")
    if made.returncode == 0:
        try:
            assert ip("addr", "add", f"{ADDRESS}/24", "dev", IFACE).returncode == 0
            assert ip("link", "set", IFACE, "up").returncode == 0
            yield ADDRESS
        finally:
            ip("link", "del", IFACE)
        return
    on_lo = ip("addr", "add", f"{ADDRESS}/32", "dev", "lo")
    if on_lo.returncode != 0:
        pytest.skip(f"cannot add a test address (needs root / CAP_NET_ADMIN): {made.stderr.strip()}; "
                    f"{on_lo.stderr.strip()}")
    try:
        yield ADDRESS
    finally:
        ip("addr", "del", f"{ADDRESS}/32", "dev", "lo")


def _agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_plain_http_to_another_address_is_refused_at_enroll_and_run(lab_address: str, tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector")
    with (collector.data / "collector.toml").open("a", encoding="utf-8") as fh:
        fh.write('host = "0.0.0.0"\n')
    collector.start()
    try:
        url = f"http://{lab_address}:{collector.port}"
        home = tmp_path / "agent"
        refused = _agent("enroll", "--home", str(home), "--collector", url, "--token", collector.token(),
                         "--name", "pc-lab")
        assert refused.returncode == 2 and "plain http:// to another machine" in refused.stderr
        assert not (home / "enrollment.json").exists()
        lab = {"SEATGUARD_AGENT_ALLOW_INSECURE_HTTP": "true"}
        allowed = _agent("enroll", "--home", str(home), "--collector", url, "--token", collector.token(),
                         "--name", "pc-lab", env=lab)
        assert allowed.returncode == 0, allowed.stderr  # the address is real and reachable
        run = _agent("run", "--home", str(home), "--no-sensors", "--heartbeat-s", "0.2")
        assert run.returncode == 2 and "plain http:// to another machine" in run.stderr
        events = tmp_path / "one.jsonl"
        events.write_text('{"schema":1,"agent_id":"x","seq":1,"ts":"2026-11-23T09:00:00.000+08:00",'
                          '"kind":"agent.stop","reason":"x"}\n', encoding="utf-8")
        replay = _agent("replay", "--home", str(home), str(events))
        assert replay.returncode == 2 and "plain http://" in replay.stderr
        assert collector.stats("pc-lab")["events"] == 0, "nothing was sent in the clear"
    finally:
        collector.kill()
    assert free_port()  # the collector's port is released with the process


def test_an_agent_allowed_plain_http_says_so_and_the_admin_page_shows_it(lab_address: str, tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector")
    with (collector.data / "collector.toml").open("a", encoding="utf-8") as fh:
        fh.write('host = "0.0.0.0"\n')
    collector.start()
    lab = {**FAST_AGENT_ENV, "SEATGUARD_AGENT_ALLOW_INSECURE_HTTP": "true", "SEATGUARD_AGENT_BATCH_MAX_AGE_S": "0.2"}
    try:
        url = f"http://{lab_address}:{collector.port}"
        lab_home, near_home = tmp_path / "lab", tmp_path / "near"
        assert _agent("enroll", "--home", str(lab_home), "--collector", url, "--token", collector.token(),
                      "--name", "pc-lab", env=lab).returncode == 0
        collector.enroll(near_home, "pc-near")  # loopback: nothing insecure to report
        for home in (lab_home, near_home):
            agent = subprocess.Popen([AGENT, "run", "--home", str(home), "--no-sensors", "--heartbeat-s", "0.3"],
                                     env={**os.environ, **lab}, stdout=subprocess.DEVNULL,
                                     stderr=(tmp_path / f"{home.name}.log").open("wb"))
            try:
                wait_for(lambda h=home: _beats(collector, h.name), 60, what="a heartbeat")
            finally:
                agent.send_signal(signal.SIGTERM)
                agent.wait(30)
        assert {b.get("insecure_transport") for b in _beats(collector, "lab")} == {True}
        assert {b.get("insecure_transport") for b in _beats(collector, "near")} == {None}
        admin = _admin(collector)
        page = requests.get(collector.url + "/admin", headers=admin, timeout=10)
        assert page.status_code == 200
        rows = {name: page.text.split(f'id="agent-row-{name}"', 1)[1].split("</tr>", 1)[0]
                for name in ("pc-lab", "pc-near")}
        assert "insecure-transport" in rows["pc-lab"] and "insecure-transport" not in rows["pc-near"]
    finally:
        collector.kill()


def _beats(collector: CollectorProcess, home_name: str) -> list[dict[str, Any]]:
    agent_id = {"lab": "pc-lab", "near": "pc-near"}[home_name]
    return [e for e in _events(collector.data, agent_id) if e["kind"] == "agent.heartbeat"]
