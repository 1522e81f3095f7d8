"""The Windows and macOS layers against fakes of their OS APIs (this CI has neither OS).

The fakes answer the calls the way user32/kernel32 and AppKit/Quartz do (same call shapes: buffers
filled in place, pointers written through, dictionaries keyed by Quartz constants); the sensors above
them are the real ones.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from agent.sensors import AgentPolicy
from agent.sensors.clipboard import ClipboardSensor
from agent.sensors.focus import FocusSensor
from agent.sensors.idle import IdleSensor
from agent.sensors.platform import Window
from agent.sensors.platform.macos import ANY_INPUT_EVENT, HID_SYSTEM_STATE, MacDesktop
from agent.sensors.platform.windows import CF_UNICODETEXT, LASTINPUTINFO, WindowsDesktop, volume_label
from simulator.testing.sensors import FakeClock, ListSink

# ---- Windows ----------------------------------------------------------------------------------------

GLOBAL_MEMORY: dict[int, Any] = {}  # handle -> the buffer behind it


@dataclass
class FakeUser32:
    """user32 as a seat shows it: one foreground window after another, a clipboard with a counter."""

    windows: dict[int, tuple[str, int]]  # hwnd -> (title, pid)
    foreground: int = 0
    last_input_tick: int = 0
    clipboard_seq: int = 7
    clipboard: str | None = None
    clipboard_busy: bool = False
    calls: list[str] = field(default_factory=list)
    _open: bool = False

    def GetForegroundWindow(self) -> int:  # noqa: N802 - the Win32 names
        return self.foreground

    def GetWindowTextLengthW(self, hwnd: int) -> int:  # noqa: N802
        return len(self.windows[hwnd][0])

    def GetWindowTextW(self, hwnd: int, buf: Any, size: int) -> int:  # noqa: N802
        buf.value = self.windows[hwnd][0][: size - 1]
        return len(buf.value)

    def GetWindowThreadProcessId(self, hwnd: int, pid: Any) -> int:  # noqa: N802
        pid.contents.value = self.windows[hwnd][1]
        return 4242

    def GetLastInputInfo(self, info: Any) -> int:  # noqa: N802
        assert info.contents.cbSize == ctypes.sizeof(LASTINPUTINFO)  # Windows refuses a wrong cbSize
        info.contents.dwTime = self.last_input_tick
        return 1

    def GetClipboardSequenceNumber(self) -> int:  # noqa: N802
        return self.clipboard_seq

    def OpenClipboard(self, owner: Any) -> int:  # noqa: N802
        if self.clipboard_busy:
            return 0
        self._open = True
        return 1

    def CloseClipboard(self) -> int:  # noqa: N802
        self._open = False
        return 1

    def GetClipboardData(self, fmt: int) -> int:  # noqa: N802
        assert self._open and fmt == CF_UNICODETEXT
        if self.clipboard is None:
            return 0
        buf = ctypes.create_unicode_buffer(self.clipboard)  # NUL-terminated, like CF_UNICODETEXT
        GLOBAL_MEMORY[ctypes.addressof(buf)] = buf
        return ctypes.addressof(buf)  # the "global memory handle"; GlobalLock hands back its address

    def EmptyClipboard(self) -> int:  # noqa: N802
        assert self._open
        self.clipboard = None
        self.clipboard_seq += 1
        self.calls.append("EmptyClipboard")
        return 1

    def copy(self, text: str) -> None:
        self.clipboard = text
        self.clipboard_seq += 1


@dataclass
class FakeKernel32:
    tick: int = 0
    locked: list[int] = field(default_factory=list)

    def GetTickCount(self) -> int:  # noqa: N802
        return self.tick

    def GlobalLock(self, handle: int) -> int:  # noqa: N802
        self.locked.append(handle)
        return handle

    def GlobalSize(self, handle: int) -> int:  # noqa: N802
        return ctypes.sizeof(GLOBAL_MEMORY[handle])

    def GlobalUnlock(self, handle: int) -> int:  # noqa: N802
        self.locked.remove(handle)
        return 1

    def GetVolumeInformationW(self, root: str, buf: Any, size: int, *rest: Any) -> int:  # noqa: N802
        if root != "E:\\":
            return 0
        buf.value = "KINGSTON"
        return 1


NAMES = {3104: "crm.exe", 5120: "chrome.exe"}


def windows_seat() -> tuple[FakeUser32, FakeKernel32, WindowsDesktop]:
    user32 = FakeUser32(windows={0x1A2B: ("Case 1001 - CRM", 3104), 0x3C4D: ("Inbox - Google Chrome", 5120)})
    kernel32 = FakeKernel32()
    return user32, kernel32, WindowsDesktop(user32, kernel32, names=lambda pid: NAMES.get(pid, ""))


def test_windows_foreground_window() -> None:
    user32, _kernel32, desktop = windows_seat()
    assert desktop.foreground() is None  # GetForegroundWindow answers NULL while focus changes
    user32.foreground = 0x1A2B
    assert desktop.foreground() == Window(0x1A2B, "crm.exe", "Case 1001 - CRM", 3104)


def test_windows_focus_sensor_and_browser_titles() -> None:
    user32, _kernel32, desktop = windows_seat()
    sink = ListSink()
    sensor = FocusSensor(sink, AgentPolicy(), FakeClock(), desktop=lambda: desktop)
    for hwnd in (0x1A2B, 0x1A2B, 0x3C4D, 0x1A2B):
        user32.foreground = hwnd
        sensor.poll()
    assert [(r.kind, r.fields) for r in sink.records] == [
        ("app.focus", {"app": "crm.exe", "title": "Case 1001 - CRM", "pid": 3104}),
        ("app.focus", {"app": "chrome.exe", "title": "Inbox - Google Chrome", "pid": 5120}),
        ("page.open", {"url": "", "title": "Inbox", "app": "chrome.exe"}),
        ("app.focus", {"app": "crm.exe", "title": "Case 1001 - CRM", "pid": 3104}),
    ]


def test_windows_idle_time_survives_the_tick_count_wrap() -> None:
    user32, kernel32, desktop = windows_seat()
    user32.last_input_tick, kernel32.tick = 1_000, 4_500
    assert desktop.idle_seconds() == 3.5
    user32.last_input_tick, kernel32.tick = 0xFFFF_F000, 5_000  # 49.7 days of uptime: the counter wrapped
    assert desktop.idle_seconds() == 9.096
    clock, sink = FakeClock(), ListSink()
    sensor = IdleSensor(sink, AgentPolicy(idle_threshold_s=5), clock, desktop=lambda: desktop)
    sensor.setup()
    sensor.poll()
    user32.last_input_tick, kernel32.tick = 20_000, 20_500
    sensor.poll()
    assert [r.kind for r in sink.records] == ["input.idle", "input.active"]


def test_windows_clipboard_copy_and_clear() -> None:
    user32, kernel32, desktop = windows_seat()
    user32.foreground = 0x1A2B
    policy = AgentPolicy(sensitive_apps=["crm.exe"], clear_sensitive_copies=True, clipboard_preview=False)
    clock, sink = FakeClock(), ListSink()
    sensor = ClipboardSensor(sink, policy, clock, desktop=lambda: desktop, hotkeys=False)
    sensor.setup()
    user32.copy("ID 110101199003071233")
    sensor.poll()
    clock.advance(2)
    sensor.poll()
    assert [r.fields for r in sink.records] == [
        {"app": "crm.exe", "title": "Case 1001 - CRM", "trigger": "unknown", "chars": 21, "action": "cleared",
         "classes": {"id_number": 1, "phone": 0, "bank_card": 0}}]
    assert user32.calls == ["EmptyClipboard"] and kernel32.locked == [] and not user32._open
    user32.clipboard_busy = True  # another program holds the clipboard open
    assert desktop.clipboard_text() is None and desktop.clear_clipboard() is False


def test_windows_volume_label() -> None:
    assert volume_label("E:\\", FakeKernel32()) == "KINGSTON"
    assert volume_label("F:\\", FakeKernel32()) == ""


# ---- macOS ------------------------------------------------------------------------------------------


class FakeRunningApp:
    def __init__(self, name: str, pid: int) -> None:
        self._name, self._pid = name, pid

    def localizedName(self) -> str:  # noqa: N802 - the Cocoa names
        return self._name

    def processIdentifier(self) -> int:  # noqa: N802
        return self._pid


class FakeWorkspace:
    front: FakeRunningApp | None = None

    def frontmostApplication(self) -> FakeRunningApp | None:  # noqa: N802
        return self.front


class FakePasteboard:
    def __init__(self) -> None:
        self.count = 100
        self.text: str | None = None

    def changeCount(self) -> int:  # noqa: N802
        return self.count

    def stringForType_(self, kind: str) -> str | None:  # noqa: N802
        assert kind == "public.utf8-plain-text"
        return self.text

    def clearContents(self) -> int:  # noqa: N802
        self.text = None
        self.count += 1
        return self.count


class FakeAppKit:
    NSPasteboardTypeString = "public.utf8-plain-text"

    def __init__(self) -> None:
        self.workspace, self.pasteboard = FakeWorkspace(), FakePasteboard()
        kit = self

        class NSWorkspace:
            @staticmethod
            def sharedWorkspace() -> FakeWorkspace:  # noqa: N802
                return kit.workspace

        class NSPasteboard:
            @staticmethod
            def generalPasteboard() -> FakePasteboard:  # noqa: N802
                return kit.pasteboard

        self.NSWorkspace, self.NSPasteboard = NSWorkspace, NSPasteboard


class FakeQuartz:
    kCGWindowListOptionOnScreenOnly = 1  # noqa: N815 - the Quartz names
    kCGWindowListExcludeDesktopElements = 16  # noqa: N815
    kCGNullWindowID = 0  # noqa: N815
    kCGWindowOwnerPID = "kCGWindowOwnerPID"  # noqa: N815
    kCGWindowLayer = "kCGWindowLayer"  # noqa: N815
    kCGWindowName = "kCGWindowName"  # noqa: N815

    def __init__(self) -> None:
        self.windows: list[dict[str, Any]] = []
        self.idle = 0.0

    def CGWindowListCopyWindowInfo(self, options: int, relative: int) -> list[dict[str, Any]]:  # noqa: N802
        assert options == 17 and relative == 0
        return self.windows

    def CGEventSourceSecondsSinceLastEventType(self, state: int, kind: int) -> float:  # noqa: N802
        assert (state, kind) == (HID_SYSTEM_STATE, ANY_INPUT_EVENT)
        return self.idle


def test_macos_front_app_title_idle_and_clipboard() -> None:
    kit, quartz = FakeAppKit(), FakeQuartz()
    desktop = MacDesktop(kit, quartz)
    assert desktop.foreground() is None
    kit.workspace.front = FakeRunningApp("Google Chrome", 812)
    quartz.windows = [  # front to back: the menu bar (layer 25), then the app's window, then others
        {"kCGWindowOwnerPID": 812, "kCGWindowLayer": 25, "kCGWindowName": "Menubar"},
        {"kCGWindowOwnerPID": 812, "kCGWindowLayer": 0, "kCGWindowName": "Case 1001 - Google Chrome"},
        {"kCGWindowOwnerPID": 90, "kCGWindowLayer": 0, "kCGWindowName": "Notes"},
    ]
    assert desktop.foreground() == Window(812, "Google Chrome", "Case 1001 - Google Chrome", 812)
    quartz.windows[1].pop("kCGWindowName")  # without the Screen Recording permission: no titles
    assert desktop.foreground() == Window(812, "Google Chrome", "", 812)
    quartz.idle = 42.5
    assert desktop.idle_seconds() == 42.5
    assert desktop.clipboard_sequence() == 100
    kit.pasteboard.text, kit.pasteboard.count = "13812345678", 101
    assert (desktop.clipboard_sequence(), desktop.clipboard_text()) == (101, "13812345678")
    assert desktop.clear_clipboard() and desktop.clipboard_text() is None
