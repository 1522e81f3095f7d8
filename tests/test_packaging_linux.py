"""packaging/linux/install.sh run for real: a temporary prefix, a venv built from the source, enrollment
with a test collector, the agent started through its session launcher, and a clean uninstall."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, CollectorProcess, wait_for

INSTALL = ROOT / "packaging" / "linux" / "install.sh"
EXTENSION_ID = "abcdefghijklmnopabcdefghijklmnop"


def _source_tree(dest: Path) -> Path:
    """What a release tarball of the agent holds: the package, pyproject.toml and README.md."""
    dest.mkdir()
    for package in ("agent", "contract"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


def _run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_install_enroll_start_and_uninstall_in_a_temporary_prefix(collector: CollectorProcess, tmp_path: Path) -> None:
    prefix, home, root = tmp_path / "opt" / "seatguard", tmp_path / "var" / "agent", tmp_path / "root"
    config = tmp_path / "agent.toml"
    config.write_text("batch_max_age_s = 0.2\nheartbeat_s = 0.5\n", encoding="utf-8")
    installed = _run("bash", INSTALL, "--from-source", _source_tree(tmp_path / "src"), "--python", sys.executable,
                     "--prefix", prefix, "--home", home, "--root", root, "--config", config,
                     "--collector", collector.url, "--token", collector.token(), "--name", "linux-pc-1",
                     "--extension-id", EXTENSION_ID)
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert "It never records which keys you press" in installed.stderr  # status ran: the notice

    # the program, the pre-seeded home and the enrollment
    agent = prefix / "bin" / "seatguard-agent"
    assert (prefix / "venv" / "bin" / "python").exists() and agent.resolve().is_file()
    assert (home / "agent.toml").read_text(encoding="utf-8").startswith("batch_max_age_s = 0.2")
    assert json.loads((home / "enrollment.json").read_text())["agent_id"] == "linux-pc-1"
    assert oct(home.stat().st_mode & 0o777) == "0o700"

    # session start-up files, rendered for this prefix
    unit = root / "etc" / "systemd" / "user" / "seatguard-agent.service"
    wants = root / "etc" / "systemd" / "user" / "graphical-session.target.wants" / "seatguard-agent.service"
    desktop = root / "etc" / "xdg" / "autostart" / "seatguard-agent.desktop"
    for path in (unit, desktop, prefix / "bin" / "seatguard-agent-session", prefix / "bin" / "seatguard-status"):
        assert "@PREFIX@" not in path.read_text() and "@AGENT_HOME@" not in path.read_text(), path
    assert os.readlink(wants) == "../seatguard-agent.service"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(desktop)
    assert entry["Desktop Entry"]["Exec"] == f"{prefix}/bin/seatguard-agent-session"
    if shutil.which("systemd-analyze"):
        verified = _run("systemd-analyze", "verify", unit)
        assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr

    # browser policy carries the same per-PC secret as the agent home
    secret = (home / "extension-secret").read_text().strip()
    assert len(secret) == 64 and oct((home / "extension-secret").stat().st_mode & 0o777) == "0o600"
    for policy_dir in ("etc/opt/chrome", "etc/chromium", "etc/opt/edge"):
        policy = json.loads((root / policy_dir / "policies" / "managed" / "seatguard.json").read_text())
        assert policy["3rdparty"]["extensions"][EXTENSION_ID] == {"port": 47533, "secret": secret}
        assert policy["ExtensionInstallForcelist"] == [f"{EXTENSION_ID};https://clients2.google.com/service/update2/crx"]

    # the status command anyone at the PC can run
    status_link = root / "usr" / "local" / "bin" / "seatguard-status"
    status = _run(status_link)
    assert status.returncode == 0 and status.stdout.startswith("SeatGuard is running on this PC"), status.stderr
    assert "linux-pc-1" in status.stdout

    # the agent starts through the session launcher, as systemd or XDG autostart would start it;
    # a fake notify-send stands in for the desktop notification of the first start
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    shown = tmp_path / "notified.txt"
    (fake_bin / "notify-send").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{shown}"\n', encoding="utf-8")
    (fake_bin / "notify-send").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update({"PATH": f"{fake_bin}:{env['PATH']}", "HOME": str(tmp_path / "user"),
                "XDG_STATE_HOME": str(tmp_path / "user" / "state"), "INVOCATION_ID": "pytest",
                "WAYLAND_DISPLAY": "wayland-test"})
    log = (tmp_path / "session.log").open("wb")
    session = subprocess.Popen([str(prefix / "bin" / "seatguard-agent-session")], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: collector.stats("linux-pc-1")["events"] >= 2, 60, interval=0.5,
                 what="agent.start and a heartbeat from the installed agent")
        wait_for(shown.exists, 10, what="the first-start notice")
        assert "SeatGuard is running" in shown.read_text() and "never records which keys" in shown.read_text()
        assert (tmp_path / "user" / "state" / "seatguard" / "notice-shown").exists()
        running = json.loads(_run(agent, "status", "--home", home, "--json").stdout)
        assert running["running_pid"] == session.pid  # exec: the launcher became the agent
    finally:
        session.send_signal(signal.SIGTERM)
        code = session.wait(30)
        log.close()
    assert code == 0, (tmp_path / "session.log").read_text()[-3000:]

    # uninstall: program and system files go, the home (enrollment, unsent events) stays
    removed = _run("bash", prefix / "share" / "seatguard" / "uninstall.sh", "--prefix", prefix, "--home", home,
                   "--root", root)
    assert removed.returncode == 0, removed.stderr
    assert not prefix.exists()
    assert not unit.exists() and not wants.exists() and not desktop.exists() and not status_link.is_symlink()
    assert not list(root.rglob("seatguard.json"))
    assert (home / "enrollment.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--token", "sgt_x"], "--token needs --collector"),
    (["--extension-id", "not-an-id"], "--extension-id must be 32 letters a-p"),
    (["--prefix", "relative/path"], "--prefix must be an absolute path"),
    (["--from-build", "/nonexistent"], "has no seatguard-agent program"),
    (["--bogus"], "unknown option --bogus"),
])
def test_install_refuses_bad_arguments_before_touching_anything(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _run("bash", INSTALL, "--prefix", tmp_path / "opt", "--home", tmp_path / "home", "--root", tmp_path / "r",
                *args)
    assert proc.returncode == 64 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "opt").exists() and not (tmp_path / "home").exists()
