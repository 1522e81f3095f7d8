"""The collector installed with only the ``collector`` extra, as ``packaging/collector/Dockerfile`` does.

A fresh virtual environment gets ``.[collector]`` from a copy of this tree (non-editable), with no
sensor library (psutil, watchdog, pynput, mss). Its own ``seatguard-collector`` initialises a data
folder and serves on a loopback port; an admin saves a policy through the HTTP API (a good one is
saved, a bad one is a 400 naming the key, never a 500); a batch sealed with ``contract.wire`` by this
test's interpreter is ingested; the daily report is built.

Wheels come from a wheel cache (``SEATGUARD_WHEELHOUSE``, default ``~/.cache/seatguard-test-wheels``),
filled from the package index on first use, so a later run installs without the network.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from contract import wire
from contract.schema import format_ts
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = Path(os.environ.get("SEATGUARD_WHEELHOUSE", Path.home() / ".cache" / "seatguard-test-wheels"))
PACKAGES = ("agent", "collector", "contract", "detectors", "simulator")
SENSOR_LIBRARIES = ("psutil", "watchdog", "pynput", "mss")


def _env() -> dict[str, str]:
    """The venv's own environment: nothing of this checkout on the import path."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "PIP_INDEX_URL")}
    return {**keep, "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}


def _run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=_env(),
                          timeout=timeout)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    out, err = proc.stdout[-3000:], proc.stderr[-3000:]
    assert proc.returncode == 0, f"{proc.args} failed ({proc.returncode}):\n{out}\n{err}"
    return proc.stdout


def _copy_tree(dest: Path) -> Path:
    """The tree as a source distribution would carry it, so that building leaves this checkout untouched."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _install(venv: Path, src: Path, work: Path) -> None:
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    offline = [*pip, "install", "-q", "--no-index", "--find-links", WHEELHOUSE, f"{src}[collector]"]
    if WHEELHOUSE.is_dir() and _run(*offline, cwd=work).returncode == 0:
        return
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)  # first use, or the requirements changed: fill the cache
    _ok(_run(*pip, "wheel", "-q", "--wheel-dir", WHEELHOUSE, f"{src}[collector]", "setuptools>=77", "wheel",
             cwd=work, timeout=600))
    for own in WHEELHOUSE.glob("seatguard-*.whl"):
        own.unlink()
    _ok(_run(*offline, cwd=work))


@dataclass
class Installed:
    venv: Path
    data: Path
    work: Path
    url: str
    proc: subprocess.Popen[bytes]

    def cli(self, *args: str) -> str:
        return _ok(_run(self.venv / "bin" / "seatguard-collector", *args, cwd=self.work))

    def python(self, code: str) -> str:
        return _ok(_run(self.venv / "bin" / "python", "-c", code, cwd=self.work))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("collector-only")
    venv = work / "venv"
    _ok(_run(sys.executable, "-m", "venv", venv, cwd=work))
    _install(venv, _copy_tree(work / "src"), work)
    data = work / "data"
    init = _ok(_run(venv / "bin" / "seatguard-collector", "init", "--data", data, cwd=work))
    assert json.loads(init)["admin"]["user"] == "admin"
    port = free_port()
    with (work / "serve.out").open("ab") as log:
        proc = subprocess.Popen([str(venv / "bin" / "seatguard-collector"), "serve", "--data", str(data),
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, cwd=work, env=_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url, proc), 60, what="collector-only /healthz")
        yield Installed(venv, data, work, url, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(20)


def _healthy(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"the collector-only serve exited with {proc.returncode}")
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_the_venv_has_no_sensor_library_and_runs_its_own_install(installed: Installed) -> None:
    found = json.loads(installed.python(
        "import importlib.util, json, collector; print(json.dumps({'file': collector.__file__, 'found': "
        f"[n for n in {list(SENSOR_LIBRARIES)!r} if importlib.util.find_spec(n)]}}))"))
    assert found["found"] == [], f"sensor libraries in a collector-only install: {found['found']}"
    assert str(installed.venv) in found["file"] and "site-packages" in found["file"]


def test_an_admin_saves_a_policy_through_the_api(installed: Installed) -> None:
    token = installed.cli("token", "create", "--data", str(installed.data), "--user", "admin").strip()
    bearer = {"Authorization": f"Bearer {token}"}
    shown = requests.get(installed.url + "/api/v1/policy", headers=bearer, timeout=30)
    assert shown.status_code == 200, shown.text
    version = shown.json()["policy"]["version"]
    change = {"idle_threshold_s": 240, "customer_url_patterns": [r"/customers?/(\d+)"], "allowed_apps": ["crm*"]}
    saved = requests.post(installed.url + "/api/v1/policy", headers=bearer, timeout=30,
                          json={"policy": change, "version": version})
    assert saved.status_code == 200, saved.text
    assert requests.get(installed.url + "/api/v1/policy", headers=bearer,
                        timeout=30).json()["policy"]["idle_threshold_s"] == 240
    bad = requests.post(installed.url + "/api/v1/policy", headers=bearer, timeout=30,
                        json={"policy": {"customer_url_patterns": ["*/customer/*"]}, "version": version + 1})
    assert bad.status_code == 400, bad.text
    assert "customer_url_patterns" in bad.text and "bad regular expression" in bad.text


def test_a_sealed_batch_is_ingested_and_reported(installed: Installed) -> None:
    enroll_token = installed.cli("enroll-token", "--data", str(installed.data), "--team", "cs-a").strip()
    key = wire.new_agent_key()
    answer = requests.post(installed.url + "/api/v1/enroll", timeout=30, json={
        "token": enroll_token, "public_key": wire.public_key_b64(key.public_key()), "name": "pc-only"})
    assert answer.status_code == 200, answer.text
    now = datetime.now(UTC)
    events = [{"schema": 1, "agent_id": "pc-only", "seq": i + 1, "ts": format_ts(now), "kind": kind, **fields}
              for i, (kind, fields) in enumerate([
                  ("app.focus", {"app": "crm.exe", "title": "Case C-2026-0000001", "pid": 7}),
                  ("page.open", {"url": "https://crm.internal/customers/4401", "title": "customer", "app": "chrome"}),
                  ("clipboard.copy", {"app": "crm.exe", "title": "customer", "trigger": "hotkey", "chars": 18,
                                      "classes": {"id_number": 1}, "action": "allowed"}),
              ])]
    body, _digest = wire.seal_batch(agent_id="pc-only", batch_seq=1, prev_batch_hash=wire.GENESIS_HASH,
                                    events=events, sealed_at=format_ts(now),
                                    collector_key=wire.load_x25519_public(answer.json()["collector_key"]),
                                    agent_key=key)
    stored = requests.post(installed.url + "/api/v1/batches", data=body, timeout=60,
                           headers={"content-type": "application/json"})
    assert stored.status_code == 200, stored.text
    assert (stored.json()["stored"], stored.json()["quarantined"]) == (3, 0)
    day = now.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the collector's default time zone
    report = json.loads(installed.cli("report", "--data", str(installed.data), "--date", day, "--format", "json"))
    assert "pc-only" in json.dumps(report)
