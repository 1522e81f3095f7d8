"""The live wall stream signs its viewer in again before every update: disabling them ends it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import COLLECTOR, CollectorProcess, run_cli, wait_for


@pytest.fixture()
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(tmp_path / "data")
    run_cli(COLLECTOR, "user", "add", "--data", str(proc.data), "--name", "mgr", "--role", "manager",
            "--team", "alpha")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _token(proc: CollectorProcess, user: str) -> str:
    return run_cli(COLLECTOR, "token", "create", "--data", str(proc.data), "--user", user).strip().splitlines()[-1]


def test_disabled_manager_stream_ends_within_seconds(collector: CollectorProcess) -> None:
    mgr, admin = _token(collector, "mgr"), _token(collector, "admin")
    got: list[bytes] = []
    finished: list[float] = []

    def watch() -> None:
        with requests.get(collector.url + "/api/v1/wall/events", stream=True, timeout=30,
                          headers={"Authorization": f"Bearer {mgr}"}) as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_content(chunk_size=None):
                got.append(chunk)
        finished.append(time.monotonic())

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    wait_for(lambda: b"event: snapshot" in b"".join(got), timeout=15, what="the wall snapshot")
    assert not finished
    answer = requests.post(collector.url + "/admin/users/mgr/disable", timeout=10,
                           headers={"Authorization": f"Bearer {admin}"}, allow_redirects=False)
    assert answer.status_code < 400, answer.text
    disabled_at = time.monotonic()
    reader.join(timeout=10)
    assert finished, "the stream of a disabled manager is still open"
    assert finished[0] - disabled_at < 5.0
    body = b"".join(got)
    assert b"event: end" in body and b"reason" in body
    again = requests.get(collector.url + "/api/v1/wall/events?once=true", timeout=10,
                         headers={"Authorization": f"Bearer {mgr}"})
    assert again.status_code == 401
