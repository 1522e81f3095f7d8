"""macOS layer over pyobjc: NSWorkspace and Quartz window lists, CGEventSource idle time, NSPasteboard.

The frontmost app comes from NSWorkspace; its window title from the first on-screen, layer-0 window
of that process in Quartz's front-to-back window list (macOS shows titles only to apps granted the
Screen Recording permission; without it titles are empty). Idle time is
CGEventSourceSecondsSinceLastEventType over all input; clipboard changes are NSPasteboard.changeCount.
The AppKit and Quartz modules are passed in, so tests hand it recorded fakes.
"""

from __future__ import annotations

from typing import Any

from agent.sensors.errors import SensorUnavailable
from agent.sensors.platform.common import MAX_CLIPBOARD_CHARS, Window

ANY_INPUT_EVENT = 0xFFFFFFFF  # kCGAnyInputEventType
HID_SYSTEM_STATE = 1  # kCGEventSourceStateHIDSystemState
STRING_TYPE = "public.utf8-plain-text"  # NSPasteboardTypeString


class MacDesktop:
    kind = "macos"

    def __init__(self, appkit: Any, quartz: Any) -> None:
        self._workspace = appkit.NSWorkspace.sharedWorkspace()
        self._pasteboard = appkit.NSPasteboard.generalPasteboard()
        self._string_type = getattr(appkit, "NSPasteboardTypeString", STRING_TYPE)
        self._q = quartz

    @classmethod
    def load(cls) -> MacDesktop:
        try:
            import AppKit
            import Quartz
        except ImportError as exc:
            raise SensorUnavailable(f"pyobjc (AppKit, Quartz) is not installed: {exc}") from exc
        return cls(AppKit, Quartz)

    def foreground(self) -> Window | None:
        app = self._workspace.frontmostApplication()
        if app is None:
            return None
        pid = int(app.processIdentifier())
        name = str(app.localizedName() or "") or "unknown"
        return Window(handle=pid, app=name, title=self._title(pid), pid=pid)

    def _title(self, pid: int) -> str:
        q = self._q
        options = q.kCGWindowListOptionOnScreenOnly | q.kCGWindowListExcludeDesktopElements
        for info in q.CGWindowListCopyWindowInfo(options, q.kCGNullWindowID) or ():
            if int(info.get(q.kCGWindowOwnerPID, -1)) == pid and int(info.get(q.kCGWindowLayer, 0)) == 0:
                return str(info.get(q.kCGWindowName) or "")
        return ""

    def idle_seconds(self) -> float | None:
        return float(self._q.CGEventSourceSecondsSinceLastEventType(HID_SYSTEM_STATE, ANY_INPUT_EVENT))

    def clipboard_sequence(self) -> int:
        return int(self._pasteboard.changeCount())

    def clipboard_text(self) -> str | None:
        text = self._pasteboard.stringForType_(self._string_type)
        return None if text is None else str(text)[:MAX_CLIPBOARD_CHARS]

    def clear_clipboard(self) -> bool:
        self._pasteboard.clearContents()
        return True

    def close(self) -> None:
        """Nothing to release."""
