"""Linux X11 layer over python-xlib.

- foreground: EWMH ``_NET_ACTIVE_WINDOW`` on the root window; without a window manager that sets it,
  ``XGetInputFocus`` walked up to the top-level window. Title from ``_NET_WM_NAME`` (else ``WM_NAME``),
  process id from ``_NET_WM_PID`` (else the X-Resource extension), app = process name (else WM_CLASS).
- idle: the MIT-SCREEN-SAVER extension's idle counter.
- clipboard: XFixes selection-owner notifications count changes of CLIPBOARD (polling the owner when
  XFixes is missing); the text is fetched with ConvertSelection (INCR transfers included, capped).
"""

from __future__ import annotations

import contextlib
import select
import time
from typing import Any

import Xlib.display
import Xlib.error
from Xlib import X, Xatom
from Xlib.ext import res as xres
from Xlib.ext import xfixes
from Xlib.protocol import request

from agent.sensors.errors import SensorUnavailable
from agent.sensors.platform.common import MAX_CLIPBOARD_CHARS, Window, process_name

MAX_CLIPBOARD_BYTES = 4 * MAX_CLIPBOARD_CHARS  # UTF-8: at most 4 bytes a character
_CACHE_LIMIT = 256


class X11Desktop:
    kind = "x11"

    def __init__(self, display: str | None = None) -> None:
        try:
            self._d = Xlib.display.Display(display)
        except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError) as exc:
            raise SensorUnavailable(f"cannot open X display {display or ''!s}: {exc}") from exc
        self._root = self._d.screen().root
        atom = self._d.intern_atom
        self._net_active = atom("_NET_ACTIVE_WINDOW")
        self._net_name = atom("_NET_WM_NAME")
        self._net_pid = atom("_NET_WM_PID")
        self._utf8 = atom("UTF8_STRING")
        self._clipboard = atom("CLIPBOARD")
        self._incr = atom("INCR")
        self._slot = atom("SEATGUARD_SELECTION")
        self._wm_state = atom("WM_STATE")
        self._identities: dict[int, tuple[str, int]] = {}
        self._clip_win: Any = None
        self._xfixes = False
        self._xfixes_event = -1
        self._seq = 0
        self._owner = 0

    # ---- focus --------------------------------------------------------------------------------

    def foreground(self) -> Window | None:
        try:
            wid = self._active_window_id()
            if not wid:
                return None
            win = self._d.create_resource_object("window", wid)
            app, pid = self._identity(win)
            return Window(handle=wid, app=app, title=self._title(win), pid=pid)
        except Xlib.error.ConnectionClosedError as exc:
            raise SensorUnavailable(f"X display closed: {exc}") from exc
        except Xlib.error.XError:
            return None  # the window went away between two requests

    def _active_window_id(self) -> int:
        prop = self._root.get_full_property(self._net_active, X.AnyPropertyType)
        if prop is not None:  # an EWMH window manager runs: trust it, 0 means nothing is active
            return int(prop.value[0]) if len(prop.value) else 0
        focus = self._d.get_input_focus().focus
        fid = int(getattr(focus, "id", focus))
        if fid in (X.NONE, X.PointerRoot) or fid == self._root.id:
            return 0
        return self._client_of(self._d.create_resource_object("window", fid))

    def _client_of(self, win: Any) -> int:
        """The top-level client window holding ``win`` (input focus may sit on a child)."""
        for _ in range(32):
            tree = win.query_tree()
            parent = int(getattr(tree.parent, "id", tree.parent))
            if parent in (0, self._root.id):
                break
            win = tree.parent
        if win.get_full_property(self._wm_state, X.AnyPropertyType) or self._title(win):
            return int(win.id)
        for child in win.query_tree().children:  # a reparenting WM's frame: find the client inside
            if child.get_full_property(self._wm_state, X.AnyPropertyType):
                return int(child.id)
        return int(win.id)

    def _title(self, win: Any) -> str:
        prop = win.get_full_property(self._net_name, self._utf8)
        if prop is not None and prop.value:
            return _decode(prop.value, "utf-8")
        prop = win.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
        if prop is None or not prop.value:
            return ""
        return _decode(prop.value, "utf-8" if prop.property_type == self._utf8 else "latin-1")

    def _identity(self, win: Any) -> tuple[str, int]:
        wid = int(win.id)
        cached = self._identities.get(wid)
        if cached is not None:
            return cached
        pid = self._window_pid(win)
        app = process_name(pid)
        if not app:
            wm_class = win.get_wm_class()
            app = wm_class[0] if wm_class and wm_class[0] else "unknown"
        if len(self._identities) >= _CACHE_LIMIT:
            self._identities.clear()
        self._identities[wid] = (app, pid)
        return app, pid

    def _window_pid(self, win: Any) -> int:
        prop = win.get_full_property(self._net_pid, Xatom.CARDINAL)
        if prop is not None and len(prop.value):
            return int(prop.value[0])
        if not self._d.has_extension("X-Resource"):
            return 0
        reply = self._d.res_query_client_ids([{"client": int(win.id), "mask": xres.LocalClientPIDMask}])
        for ident in reply.ids:
            if ident.spec.mask & xres.LocalClientPIDMask and ident.value:
                return int(ident.value[0])
        return 0

    # ---- idle ---------------------------------------------------------------------------------

    def idle_seconds(self) -> float | None:
        if not self._d.has_extension("MIT-SCREEN-SAVER"):
            return None
        try:
            return float(self._root.screensaver_query_info().idle) / 1000.0
        except Xlib.error.ConnectionClosedError as exc:
            raise SensorUnavailable(f"X display closed: {exc}") from exc

    # ---- clipboard ----------------------------------------------------------------------------

    def _clip_init(self) -> None:
        if self._clip_win is not None:
            return
        self._clip_win = self._root.create_window(
            -10, -10, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask)
        if self._d.has_extension("XFIXES"):
            self._d.xfixes_query_version()
            self._xfixes_event = self._d.query_extension("XFIXES").first_event + xfixes.XFixesSelectionNotify
            self._d.xfixes_select_selection_input(
                self._root, self._clipboard, xfixes.XFixesSetSelectionOwnerNotifyMask)
            self._xfixes = True
        self._d.flush()

    def clipboard_sequence(self) -> int:
        self._clip_init()
        try:
            while self._d.pending_events():
                self._note(self._d.next_event())
            if not self._xfixes:
                owner = self._d.get_selection_owner(self._clipboard)
                oid = int(getattr(owner, "id", owner))
                if oid and oid != self._owner:
                    self._seq += 1
                self._owner = oid
        except Xlib.error.ConnectionClosedError as exc:
            raise SensorUnavailable(f"X display closed: {exc}") from exc
        return self._seq

    def _note(self, event: Any) -> None:
        # python-xlib registers a copy of the event class, so match on the event and sub-event codes
        if (event.type == self._xfixes_event and event.sub_code == xfixes.XFixesSetSelectionOwnerNotify
                and event.selection == self._clipboard
                and _wid(event.owner)):  # owner None: the clipboard was cleared, nothing copied
            self._seq += 1

    def clipboard_text(self, timeout: float = 1.0) -> str | None:
        self._clip_init()
        deadline = time.monotonic() + timeout
        for target, encoding in ((self._utf8, "utf-8"), (Xatom.STRING, "latin-1")):
            data = self._convert(target, deadline)
            if data is not None:
                return _decode(data, encoding)[:MAX_CLIPBOARD_CHARS]
        return None

    def _convert(self, target: int, deadline: float) -> bytes | None:
        win = self._clip_win
        win.convert_selection(self._clipboard, target, self._slot, X.CurrentTime)
        self._d.flush()
        reply = self._wait(lambda e: e.type == X.SelectionNotify and _wid(e.requestor) == win.id, deadline)
        if reply is None or reply.property == X.NONE:
            return None
        prop = win.get_full_property(self._slot, X.AnyPropertyType, sizehint=4096)
        if prop is None:
            return None
        if prop.property_type == self._incr:
            return self._read_incr(deadline)
        win.delete_property(self._slot)
        self._d.flush()
        return _as_bytes(prop.value)

    def _read_incr(self, deadline: float) -> bytes:
        """ICCCM INCR: each deleted property is refilled with the next chunk; an empty chunk ends it."""
        win = self._clip_win
        chunks: list[bytes] = []
        size = 0
        win.delete_property(self._slot)
        self._d.flush()
        while size <= MAX_CLIPBOARD_BYTES:
            event = self._wait(lambda e: e.type == X.PropertyNotify and e.atom == self._slot
                               and e.state == X.PropertyNewValue and _wid(e.window) == win.id, deadline)
            if event is None:
                break
            prop = win.get_full_property(self._slot, X.AnyPropertyType, sizehint=65536)
            win.delete_property(self._slot)
            self._d.flush()
            chunk = _as_bytes(prop.value) if prop is not None else b""
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:MAX_CLIPBOARD_BYTES]

    def _wait(self, wanted: Any, deadline: float) -> Any:
        while True:
            while self._d.pending_events():
                event = self._d.next_event()
                self._note(event)
                if wanted(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            select.select([self._d.fileno()], [], [], remaining)

    def clear_clipboard(self) -> bool:
        self._clip_init()
        request.SetSelectionOwner(display=self._d.display, window=X.NONE, selection=self._clipboard,
                                  time=X.CurrentTime)
        self._d.sync()
        return True

    def close(self) -> None:
        with contextlib.suppress(Xlib.error.XError, Xlib.error.ConnectionClosedError, OSError):
            self._d.close()  # fails only when the X server is already gone


def disable_record_context(context: int, display: str | None = None) -> None:
    """Disable an X RECORD context from a fresh connection (see ``stop_input_listener``)."""
    try:
        conn = Xlib.display.Display(display)
    except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError):
        return  # no X server any more: the context went with it
    with contextlib.suppress(Xlib.error.XError, Xlib.error.ConnectionClosedError, OSError):
        conn.record_disable_context(context)
        conn.sync()
    with contextlib.suppress(Xlib.error.XError, Xlib.error.ConnectionClosedError, OSError):
        conn.close()


def _wid(obj: Any) -> int:
    return int(getattr(obj, "id", obj))


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    return bytes(value.tobytes()) if hasattr(value, "tobytes") else b""


def _decode(value: Any, encoding: str) -> str:
    if isinstance(value, str):
        return value
    return _as_bytes(value).decode(encoding, "replace")
