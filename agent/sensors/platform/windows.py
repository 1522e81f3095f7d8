"""Windows layer over user32/kernel32 through ctypes.

GetForegroundWindow + GetWindowTextW + GetWindowThreadProcessId for the window in front,
GetLastInputInfo against GetTickCount for idle time, GetClipboardSequenceNumber for clipboard
changes and OpenClipboard/GetClipboardData(CF_UNICODETEXT)/GlobalSize/GlobalLock/EmptyClipboard
for its text (read no further than the memory block, and at most MAX_CLIPBOARD_CHARS).
The DLL objects are passed in, so tests hand it recorded fakes instead of the real DLLs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from agent.sensors.errors import SensorUnavailable
from agent.sensors.platform.common import MAX_CLIPBOARD_CHARS, Window, process_name

CF_UNICODETEXT = 13
MAX_PATH = 261


class LASTINPUTINFO(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint)]


def _dlls() -> tuple[Any, Any]:
    windll = getattr(ctypes, "windll", None)
    if windll is None:
        raise SensorUnavailable("not running on Windows")
    return windll.user32, windll.kernel32


class WindowsDesktop:
    kind = "windows"

    def __init__(self, user32: Any, kernel32: Any, names: Callable[[int], str] = process_name) -> None:
        self._u = user32
        self._k = kernel32
        self._names = names

    @classmethod
    def load(cls) -> WindowsDesktop:
        """The real DLLs, with the argument and result types the calls below rely on."""
        user32, kernel32 = _dlls()
        handle, text = ctypes.c_void_p, ctypes.c_wchar_p
        user32.GetForegroundWindow.restype = handle
        user32.GetWindowTextLengthW.argtypes = [handle]
        user32.GetWindowTextW.argtypes = [handle, text, ctypes.c_int]
        user32.GetWindowThreadProcessId.argtypes = [handle, ctypes.POINTER(ctypes.c_ulong)]
        user32.GetLastInputInfo.argtypes = [ctypes.POINTER(LASTINPUTINFO)]
        user32.GetClipboardSequenceNumber.restype = ctypes.c_uint32
        user32.OpenClipboard.argtypes = [handle]
        user32.GetClipboardData.restype = handle
        user32.GetClipboardData.argtypes = [ctypes.c_uint]
        kernel32.GetTickCount.restype = ctypes.c_uint32
        kernel32.GlobalLock.restype = handle
        kernel32.GlobalLock.argtypes = [handle]
        kernel32.GlobalUnlock.argtypes = [handle]
        kernel32.GlobalSize.restype = ctypes.c_size_t
        kernel32.GlobalSize.argtypes = [handle]
        return cls(user32, kernel32)

    def foreground(self) -> Window | None:
        hwnd = self._u.GetForegroundWindow()
        if not hwnd:
            return None
        length = int(self._u.GetWindowTextLengthW(hwnd))
        buf = ctypes.create_unicode_buffer(length + 1)
        self._u.GetWindowTextW(hwnd, buf, length + 1)
        pid = ctypes.c_ulong(0)
        self._u.GetWindowThreadProcessId(hwnd, ctypes.pointer(pid))
        return Window(handle=int(hwnd), app=self._names(int(pid.value)) or "unknown", title=buf.value,
                      pid=int(pid.value))

    def idle_seconds(self) -> float | None:
        info = LASTINPUTINFO(cbSize=ctypes.sizeof(LASTINPUTINFO))
        if not self._u.GetLastInputInfo(ctypes.pointer(info)):
            return None
        elapsed = (int(self._k.GetTickCount()) - int(info.dwTime)) & 0xFFFFFFFF  # tick count wraps at 49 days
        return elapsed / 1000.0

    def clipboard_sequence(self) -> int:
        return int(self._u.GetClipboardSequenceNumber())

    def clipboard_text(self) -> str | None:
        if not self._u.OpenClipboard(None):
            return None  # another program holds the clipboard open right now
        try:
            handle = self._u.GetClipboardData(CF_UNICODETEXT)
            if not handle:
                return None
            chars = min(int(self._k.GlobalSize(handle)) // ctypes.sizeof(ctypes.c_wchar), MAX_CLIPBOARD_CHARS)
            pointer = self._k.GlobalLock(handle) if chars else None
            if not pointer:
                return None
            try:
                return ctypes.wstring_at(pointer, chars).split("\x00", 1)[0]  # the block ends in NUL
            finally:
                self._k.GlobalUnlock(handle)
        finally:
            self._u.CloseClipboard()

    def clear_clipboard(self) -> bool:
        if not self._u.OpenClipboard(None):
            return False
        try:
            return bool(self._u.EmptyClipboard())
        finally:
            self._u.CloseClipboard()

    def close(self) -> None:
        """Nothing to release: the DLLs stay loaded for the process."""


def volume_label(root: str, kernel32: Any = None) -> str:
    """The label of a drive such as ``E:\\`` (GetVolumeInformationW), or "" when it has none."""
    k = kernel32 if kernel32 is not None else _dlls()[1]
    buf = ctypes.create_unicode_buffer(MAX_PATH)
    if not k.GetVolumeInformationW(root, buf, MAX_PATH, None, None, None, None, 0):
        return ""
    return str(buf.value)
