"""The PyInstaller one-folder build of the agent (scripts/build-agent.sh) passes a smoke test.

The frozen program, with no Python of the machine behind it, runs ``status``, ``enroll`` against a
test collector and ``replay``; packaging/linux/install.sh installs it (``--from-build``) and a second
run upgrades it in place and keeps the enrollment. The build takes about half a minute of CPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST_AGENT_ENV, ROOT, CollectorProcess, write_events

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                       reason="PyInstaller is not installed (it comes with the dev extra: pip install -e '.[dev]')"),
]


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """No venv on PATH and no PYTHONPATH: the frozen program must carry everything it needs."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return {**env, **(extra or {})}


def _run(*args: str | Path, extra: dict[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=_clean_env(extra), cwd=cwd)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pyinstaller")
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "build-agent.sh"), "--dist", str(out / "dist"),
                           "--work", str(out / "work")], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return out / "dist" / "seatguard-agent"


def test_frozen_folder_holds_the_agent_and_nothing_of_the_server(frozen: Path) -> None:
    internal = frozen / "_internal"
    assert (frozen / "seatguard-agent").is_file() and internal.is_dir()
    for heavy in ("numpy", "sklearn", "fastapi", "uvicorn", "sqlalchemy", "collector", "detectors"):
        assert not (internal / heavy).exists(), f"{heavy} does not belong in the agent build"
    size = sum(p.stat().st_size for p in frozen.rglob("*") if p.is_file())
    assert size < 150 * 1024 * 1024, f"the agent folder is {size // 1048576} MB"


def _frozen_modules(frozen: Path) -> set[str]:
    """Every Python module the frozen program carries (its PYZ archive, listed by PyInstaller's viewer)."""
    viewer = Path(sys.executable).with_name("pyi-archive_viewer")
    proc = subprocess.run([str(viewer), "--recursive", "--brief", str(frozen / "seatguard-agent")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.strip() for line in proc.stdout.splitlines() if line.strip() and " " not in line.strip()}


def test_frozen_build_carries_only_what_runs_on_a_pc(frozen: Path) -> None:
    modules = _frozen_modules(frozen)
    assert {"agent.cli", "agent.runner", "agent.sensors.clipboard", "contract.wire", "contract.masking"} <= modules
    for name in sorted(modules):
        top = name.split(".")[0]
        assert top not in ("simulator", "collector", "detectors", "tests", "pytest", "hypothesis"), \
            f"{name} is a development or server module and does not belong in a PC's build"
        assert not name.endswith(".testing"), f"{name} is a test helper"


def test_frozen_agent_status_enroll_and_replay(frozen: Path, collector: CollectorProcess, tmp_path: Path) -> None:
    exe = frozen / "seatguard-agent"
    home = tmp_path / "home"
    help_ = _run(exe, "--help", cwd=tmp_path)
    assert help_.returncode == 0 and "enroll" in help_.stdout and "replay" in help_.stdout

    missing = _run(exe, "status", "--home", home, cwd=tmp_path)
    assert missing.returncode == 2 and "is not enrolled" in missing.stderr

    enrolled = _run(exe, "enroll", "--home", home, "--collector", collector.url, "--token", collector.token(),
                    "--name", "frozen-pc", cwd=tmp_path)
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout)["agent_id"] == "frozen-pc"

    status = _run(exe, "status", "--home", home, cwd=tmp_path)
    assert status.returncode == 0 and status.stdout.startswith("SeatGuard is running on this PC")
    assert "frozen-pc" in status.stdout

    events = write_events(tmp_path / "events.jsonl", 500)
    replay = _run(exe, "replay", "--home", home, "--wait", events, extra=FAST_AGENT_ENV, cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    out = json.loads(replay.stdout)
    assert out["spooled_events"] == 500 and out["drained"] == 1 and out["spool_depth_events"] == 0
    assert collector.stats("frozen-pc")["events"] == 500


def test_install_sh_installs_and_upgrades_the_frozen_build(frozen: Path, collector: CollectorProcess,
                                                           tmp_path: Path) -> None:
    prefix, home, root = tmp_path / "opt", tmp_path / "home", tmp_path / "root"
    install = ["bash", ROOT / "packaging" / "linux" / "install.sh", "--from-build", frozen, "--prefix", prefix,
               "--home", home, "--root", root, "--collector", collector.url, "--name", "frozen-installed"]
    first = _run(*install, "--token", collector.token())
    assert first.returncode == 0, first.stderr[-3000:]
    agent = prefix / "bin" / "seatguard-agent"
    assert agent.is_symlink() and (prefix / "lib" / "seatguard-agent" / "_internal").is_dir()
    assert not (prefix / "venv").exists()

    again = _run(*install, "--token", collector.token())  # an upgrade: same home, the new token is not used
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already enrolled" in again.stderr
    status = _run(agent, "status", "--home", home, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["agent_id"] == "frozen-installed"
    assert collector.stats("frozen-installed")["agents"] == 1
