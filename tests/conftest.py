"""Shared fixtures: a real collector process on loopback, enrolled agents, event files; a store on
every backend (``store_url``, ``store``: :mod:`tests.storage_fixtures`). Running on several processes:
:mod:`tests.parallel`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from simulator.testing.sensors import wait_until

pytest_plugins = ["tests.storage_fixtures", "tests.parallel"]
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COLLECTOR = str(BIN / "seatguard-collector")
AGENT = str(BIN / "seatguard-agent")
# Every collector data folder this process creates; test_zz_privacy scans them all (and the other workers'
# under -n: tests.parallel.collector_data_dirs) at the end.
DATA_DIRS: list[Path] = []
RAW_IDS = ["11010519491231002X", "440308199901011234", "13800138000", "6222021234567890123"]


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``cond`` until it is truthy, failing after ``timeout`` s (the suite's one waiting helper)."""
    return wait_until(cond, timeout, what, every=interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class CollectorProcess:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        run_cli(COLLECTOR, "init", "--data", str(data))
        DATA_DIRS.append(data)

    def start(self) -> None:
        log = (self.data / "serve.out").open("ab")
        self.proc = subprocess.Popen([COLLECTOR, "serve", "--data", str(self.data), "--port", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        try:
            wait_for(self.healthy, 30, what="collector /healthz")
        except BaseException:
            self.kill()  # a server that never came up must not outlive the test
            raise

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)
        self.proc = None

    def token(self, team: str = "cs-a", role: str = "agent") -> str:
        return run_cli(COLLECTOR, "enroll-token", "--data", str(self.data), "--team", team, "--role", role).strip()

    def stats(self, agent: str | None = None) -> dict[str, Any]:
        args = [COLLECTOR, "stats", "--data", str(self.data)] + (["--agent", agent] if agent else [])
        return json.loads(run_cli(*args))

    def enroll(self, home: Path, name: str, team: str = "cs-a") -> None:
        run_cli(AGENT, "enroll", "--home", str(home), "--collector", self.url, "--token", self.token(team),
                "--name", name)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path / "collector")
    c.start()
    yield c
    c.kill()


FAST_AGENT_ENV = {"SEATGUARD_AGENT_BACKOFF_MIN_S": "0.05", "SEATGUARD_AGENT_BACKOFF_MAX_S": "0.5"}


def write_events(path: Path, n: int, start_line: int = 0, with_ids: bool = True) -> Path:
    """n schema-v1 app.focus events; each title carries a unique marker ``line-N`` (and raw IDs)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(start_line, start_line + n):
            title = f"line-{i} 客户详情"
            if with_ids and i % 10 == 0:
                title += f" 身份证 {RAW_IDS[0]} 手机 {RAW_IDS[2]}"
            sec = i % 86400
            ts = f"2026-11-23T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{i % 1000:03d}+08:00"
            fh.write(json.dumps({"schema": 1, "agent_id": "rec", "seq": i + 1, "ts": ts, "kind": "app.focus",
                                 "app": "chrome.exe", "title": title, "pid": 4242}, ensure_ascii=False) + "\n")
    return path


def stored_markers(data: Path, agent_id: str) -> list[int]:
    import sqlite3

    conn = sqlite3.connect(data / "seatguard.db")
    try:
        rows = conn.execute("SELECT data FROM events WHERE agent_id = ? AND kind = 'app.focus'", (agent_id,))
        out = []
        for (raw,) in rows:
            title = json.loads(raw)["title"]
            if title.startswith("line-"):
                out.append(int(title.split()[0][5:]))
        return out
    finally:
        conn.close()
