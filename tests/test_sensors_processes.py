"""Process starts (process.start) with categories, and the screenshots they may trigger."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from agent.sensors import AgentPolicy, SensorSet
from agent.sensors.processes import ProcessSensor
from agent.sensors.screenshots import ScreenshotSensor, downscale
from simulator.testing.sensors import FakeClock, ListSink, XSession, display_env, wait_until, xvfb


@pytest.fixture()
def programs(tmp_path: Path) -> Iterator[tuple[Path, Path, list[subprocess.Popen[bytes]]]]:
    """A remote-access look-alike and an ordinary helper, both copies of sleep."""
    anydesk, helper = tmp_path / "AnyDesk", tmp_path / "crm-helper"
    sleep = shutil.which("sleep") or "/bin/sleep"
    shutil.copy(sleep, anydesk)
    shutil.copy(sleep, helper)
    started: list[subprocess.Popen[bytes]] = []
    yield anydesk, helper, started
    for proc in started:
        proc.kill()
        proc.wait(5)


def _ours(sink: ListSink, names: set[str]) -> list[dict[str, object]]:
    return [r.fields for r in sink.records if r.kind == "process.start" and r.fields["name"] in names]


def test_new_processes_are_reported_with_their_category(
        programs: tuple[Path, Path, list[subprocess.Popen[bytes]]]) -> None:
    anydesk, helper, started = programs
    early = subprocess.Popen([str(anydesk), "60"])  # already running when the agent starts
    started.append(early)
    sink = ListSink()
    sensor = ProcessSensor(sink, AgentPolicy(process_poll_s=0.1))
    sensor.start()
    try:
        late = subprocess.Popen([str(helper), "60"])
        started.append(late)
        again = subprocess.Popen([str(anydesk), "60"])
        started.append(again)
        sink.wait_for(lambda _: len(_ours(sink, {"AnyDesk", "crm-helper"})) >= 3, 10, "three process starts")
    finally:
        sensor.stop()
    assert sorted(_ours(sink, {"AnyDesk", "crm-helper"}), key=lambda f: int(str(f["pid"]))) == [
        {"name": "AnyDesk", "exe": str(anydesk), "pid": early.pid, "category": "remote_access"},
        {"name": "crm-helper", "exe": str(helper), "pid": late.pid, "category": "other"},
        {"name": "AnyDesk", "exe": str(anydesk), "pid": again.pid, "category": "remote_access"},
    ]
    first = next(r for r in sink.records if r.fields.get("pid") == early.pid)
    assert first.ts == datetime.fromtimestamp(psutil.Process(early.pid).create_time(), UTC)  # its own start
    sink.as_v1()


def test_uncategorized_processes_can_be_left_out(programs: tuple[Path, Path, list[subprocess.Popen[bytes]]]) -> None:
    anydesk, helper, started = programs
    sink = ListSink()
    sensor = ProcessSensor(sink, AgentPolicy(report_other_processes=False), FakeClock())
    sensor.setup()
    started.append(subprocess.Popen([str(helper), "60"]))
    started.append(subprocess.Popen([str(anydesk), "60"]))
    sensor.poll()  # first seen ...
    assert sink.records == []
    sensor.poll()  # ... and reported one poll later, as the program each became
    assert [r.fields["category"] for r in sink.records] == ["remote_access"]


def test_downscaling_samples_every_nth_pixel() -> None:
    # 4x2 BGRA image: pixel (x, y) has blue=x, green=y, red=10*x+y
    bgra = b"".join(bytes([x, y, 10 * x + y, 255]) for y in range(2) for x in range(4))
    assert downscale(bgra, 4, 2, 4) == (b"".join(bytes([10 * x + y, y, x]) for y in range(2) for x in range(4)), 4, 2)
    assert downscale(bgra, 4, 2, 2) == (bytes([0, 0, 0, 20, 0, 2]), 2, 1)
    assert downscale(bgra, 4, 2, 3) == (bytes([0, 0, 0, 20, 0, 2]), 2, 1)


@pytest.fixture(scope="module")
def x() -> Iterator[XSession]:
    with xvfb(size="1280x800") as session, display_env(session):
        yield session


def test_a_remote_access_tool_triggers_one_rate_limited_screenshot(
        x: XSession, programs: tuple[Path, Path, list[subprocess.Popen[bytes]]], tmp_path: Path) -> None:
    anydesk, _helper, started = programs
    x.open_window("Case 5001 - CRM", "crm", tmp_path)
    policy = AgentPolicy(process_poll_s=0.1, screenshot_triggers=["remote_access_process"],
                         screenshot_max_width=640, screenshot_min_interval_s=60, report_other_processes=False)
    sink = ListSink()
    sensors = SensorSet(sink, policy, names=["processes", "screenshots"])
    sensors.start()
    try:
        started.append(subprocess.Popen([str(anydesk), "60"]))
        shot = sink.wait_kind("screenshot", timeout=15)[0]
        started.append(subprocess.Popen([str(anydesk), "60"]))
        wait_until(lambda: sensors.status()["screenshots"]["suppressed"] == 1, 10, "a suppressed screenshot")
    finally:
        sensors.stop()
    assert [r.kind for r in sink.records] == ["process.start", "screenshot", "process.start"]
    assert shot.fields == {"blob_id": shot.fields["blob_id"], "reason": "remote_access_process", "w": 640, "h": 400}
    png = sink.blobs[str(shot.fields["blob_id"])]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (640, 400)
    data_at = png.index(b"IDAT")
    length = struct.unpack(">I", png[data_at - 4:data_at])[0]
    assert len(zlib.decompress(png[data_at + 4:data_at + 4 + length])) == 400 * (1 + 640 * 3)
    sink.as_v1()


def test_screenshot_triggers_follow_the_policy() -> None:
    policy = AgentPolicy(screenshot_triggers=["sensitive_copy", "messaging_after_sensitive_copy",
                                              "disallowed_site", "removable_write", "disallowed_app"],
                         allowed_sites=["*.lender.example"], allowed_apps=["crm", "chrom*", "wechat"])
    sensor = ScreenshotSensor(ListSink(), policy, FakeClock())
    now = datetime(2025, 3, 3, tzinfo=UTC)
    copy = {"app": "crm", "title": "t", "trigger": "hotkey", "chars": 18, "action": "allowed",
            "classes": {"id_number": 1, "phone": 0, "bank_card": 0}}
    assert sensor._reasons("clipboard.copy", copy, now) == ["sensitive_copy"]
    assert sensor._reasons("app.focus", {"app": "WeChat", "title": "", "pid": 1}, now) == [
        "messaging_after_sensitive_copy"]
    assert sensor._reasons("app.focus", {"app": "AnyDesk", "title": "", "pid": 1}, now) == ["disallowed_app"]
    assert sensor._reasons("page.open", {"url": "https://paste.example.org/x", "title": "", "app": "chrome"},
                           now) == ["disallowed_site"]
    assert sensor._reasons("page.open", {"url": "https://crm.lender.example/", "title": "", "app": "chrome"},
                           now) == []
    assert sensor._reasons("file.write", {"path": "/media/u/X/a", "op": "created", "removable": True},
                           now) == ["removable_write"]
