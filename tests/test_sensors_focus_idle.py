"""Foreground window (app.focus) and idle (input.idle / input.active) on a real X display."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent.sensors import AgentPolicy, SensorSet
from agent.sensors.focus import FocusSensor, page_title
from agent.sensors.idle import IdleSensor
from agent.sensors.platform.x11 import X11Desktop
from simulator.testing.sensors import ListSink, XSession, display_env, wait_until, xvfb

POLICY = AgentPolicy(focus_poll_s=0.1, idle_threshold_s=1)


@pytest.fixture(scope="module")
def x() -> Iterator[XSession]:
    with xvfb() as session, display_env(session):  # Xvfb + openbox (EWMH _NET_ACTIVE_WINDOW)
        yield session


def _pid_of(x: XSession, app: str) -> int:
    return next(p.pid for p in x.procs if str(p.args[0]).endswith("/" + app))


def test_focus_changes_and_title_changes(x: XSession, tmp_path: Path) -> None:
    crm = x.open_window("Case 1001 - CRM", "crm", tmp_path)
    notes = x.open_window("Notes", "notes", tmp_path)
    sink = ListSink()
    sensor = FocusSensor(sink, POLICY)
    sensor.start()
    try:
        sink.wait_kind("app.focus", 1)
        x.xdotool("windowactivate", "--sync", str(crm))
        sink.wait_kind("app.focus", 2)
        x.xdotool("set_window", "--name", "Case 1002 - CRM", str(crm))
        sink.wait_kind("app.focus", 3)
        x.xdotool("windowactivate", "--sync", str(notes))
        sink.wait_kind("app.focus", 4)
    finally:
        sensor.stop()
    crm_pid, notes_pid = _pid_of(x, "crm"), _pid_of(x, "notes")
    assert [r.fields for r in sink.records] == [
        {"app": "notes", "title": "Notes", "pid": notes_pid},  # the newest window had the focus
        {"app": "crm", "title": "Case 1001 - CRM", "pid": crm_pid},
        {"app": "crm", "title": "Case 1002 - CRM", "pid": crm_pid},
        {"app": "notes", "title": "Notes", "pid": notes_pid},
    ]
    sink.as_v1()
    assert sensor.status() == {"available": True, "emitted": 4, "errors": 0, "running": False,
                               "extension_seen": False}


def test_focus_without_a_window_manager_uses_the_input_focus(tmp_path: Path) -> None:
    with xvfb(window_manager=None) as bare:
        first = bare.open_window("Alpha", "crm", tmp_path)
        bare.open_window("Beta", "notes", tmp_path)
        desktop = X11Desktop(bare.display)
        try:
            assert desktop.foreground() is None  # nobody has the focus yet
            bare.xdotool("windowfocus", "--sync", str(first))
            window = wait_until(desktop.foreground, 5, "input focus")
            assert (window.app, window.title, window.handle) == ("crm", "Alpha", first)
            assert window.pid == _pid_of(bare, "crm")
        finally:
            desktop.close()


def test_wayland_sessions_say_why_and_other_sensors_keep_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    sink = ListSink()
    sensors = SensorSet(sink, POLICY, names=["focus", "idle", "clipboard", "cases"])
    sensors.start()
    status = sensors.status()
    sensors.stop()
    why = "Wayland session: focus tracking unavailable (only X11, Windows and macOS are supported)"
    for name in ("focus", "idle", "clipboard"):
        assert status[name]["available"] is False and status[name]["why"] == why
    assert status["cases"]["available"] is True


def test_idle_and_active_carry_exact_moments(x: XSession) -> None:
    sink = ListSink()
    sensor = IdleSensor(sink, POLICY)
    x.xdotool("mousemove", "10", "10")
    sensor.start()
    try:
        idle = sink.wait_kind("input.idle", timeout=10)[0]
        assert sensor.status()["idle"] is True
        x.xdotool("mousemove", "200", "200")
        active = sink.wait_kind("input.active", timeout=10)[0]
    finally:
        sensor.stop()
    assert [r.kind for r in sink.records] == ["input.idle", "input.active"]
    assert idle.fields == {"threshold_s": 1.0}
    assert active.fields["idle_s"] >= 1.0
    quiet_from = active.ts - timedelta(seconds=active.fields["idle_s"])
    assert abs((idle.ts - quiet_from).total_seconds() - 1.0) < 0.002
    assert sensor.status()["source"] == "os"
    sink.as_v1()


def test_browser_suffixes_are_stripped_from_titles() -> None:
    assert page_title("Case 7 - CRM - Google Chrome") == "Case 7 - CRM"
    assert page_title("Inbox \u2014 Mozilla Firefox") == "Inbox"
    assert page_title("Loans - Personal - Microsoft\u200b Edge") == "Loans - Personal"
    assert page_title("Plain title") == "Plain title"


class NoIdleCounter:
    """An OS layer without an idle counter (as on some virtual desktops): idle comes from input hooks."""

    kind = "no-idle-counter"

    def idle_seconds(self) -> float | None:
        return None

    def close(self) -> None:
        pass


def test_without_an_os_idle_counter_input_hooks_measure_idle(x: XSession) -> None:
    sink = ListSink()
    sensor = IdleSensor(sink, POLICY, desktop=NoIdleCounter)  # type: ignore[arg-type]
    sensor.start()
    try:
        assert sensor.status()["source"] == "input hooks"
        x.xdotool("mousemove", "20", "20")
        sink.wait_kind("input.idle", timeout=10)
        x.xdotool("key", "shift")
        active = sink.wait_kind("input.active", timeout=10)[0]
    finally:
        sensor.stop()
    assert active.fields["idle_s"] >= 1.0
    assert sensor.status()["running"] is False
    sink.as_v1()
