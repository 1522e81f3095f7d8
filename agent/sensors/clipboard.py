"""Copy and cut attempts (clipboard.copy) from shortcut presses and clipboard changes.

Two signals are paired: pynput reports that a copy/cut shortcut was pressed (and nothing about any
other key), the OS layer reports that the clipboard changed. A change within ``PAIR_WINDOW_S`` of a
shortcut is one attempt with trigger "hotkey"; a change without one is "unknown" (menus, scripts);
a shortcut that changed nothing is still an attempt, with no content. The copied text is read once,
turned into counts, a length and (if the policy wants it) a masked preview, and dropped: it is never
kept, logged or emitted. A sensitive copy out of a sensitive app or customer page may be cleared.
"""

from __future__ import annotations

import logging
import queue
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.sensors.base import Clock, DesktopSensor, EventSink
from agent.sensors.errors import SensorUnavailable
from agent.sensors.platform import Desktop, start_input_listener, stop_input_listener
from agent.sensors.policy import AgentPolicy
from contract.masking import classify, mask_text

logger = logging.getLogger(__name__)

PAIR_WINDOW_S = 1.5
PREVIEW_CHARS = 64
CLASS_KEYS = ("id_number", "phone", "bank_card")
_HOTKEYS = ("<ctrl>+c", "<ctrl>+x", "<ctrl>+<insert>", "<shift>+<delete>")
_MAC_HOTKEYS = ("<cmd>+c", "<cmd>+x")


@dataclass(frozen=True)
class CopyFacts:
    """What may leave the PC about one clipboard content."""

    chars: int
    classes: dict[str, int]
    preview: str | None
    sensitive: bool


def inspect_text(text: str | None, preview: bool) -> CopyFacts:
    """Counts, length, masked preview and sensitivity of copied text (the text itself is not kept)."""
    if not text:
        return CopyFacts(0, dict.fromkeys(CLASS_KEYS, 0), None, False)
    found = classify(text)
    classes = {k: int(found.get(k, 0)) for k in CLASS_KEYS}
    masked = mask_text(text)
    sensitive = any(classes.values()) or masked != text
    shown = " ".join(masked.split())[:PREVIEW_CHARS] if preview else ""
    return CopyFacts(len(text), classes, shown or None, sensitive)


@dataclass
class _Attempt:
    at: datetime
    app: str
    title: str
    facts: CopyFacts | None = None  # None: a shortcut press with no clipboard change (yet)
    action: str = "allowed"


class ClipboardSensor(DesktopSensor):
    name = "clipboard"
    observes = frozenset({"page.open"})

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None, desktop: Callable[[], Desktop] | None = None,
                 hotkeys: bool = True) -> None:
        super().__init__(sink, policy, clock, home=home, desktop=desktop)
        self._want_hotkeys = hotkeys
        self._seq = 0
        self._presses: queue.SimpleQueue[datetime] = queue.SimpleQueue()
        self._hotkeys_pending: list[_Attempt] = []
        self._changes_pending: list[_Attempt] = []
        self._url = ""
        self._listener: Any = None
        self._hotkeys_why: str | None = None

    def setup(self) -> None:
        self._seq = self.desktop().clipboard_sequence()
        if not self._want_hotkeys:
            self._hotkeys_why = "copy shortcuts not watched (turned off)"
            return
        try:
            from pynput import keyboard
        except ImportError as exc:  # pynput refuses to load without a usable input backend
            self._hotkeys_why = f"copy shortcuts not visible: {exc}"
            logger.warning("clipboard sensor: %s", self._hotkeys_why)
            return
        combos = _MAC_HOTKEYS if sys.platform == "darwin" else _HOTKEYS
        listener = keyboard.GlobalHotKeys({c: self._pressed for c in combos})
        try:
            start_input_listener(listener)
        except SensorUnavailable as exc:
            self._hotkeys_why = f"copy shortcuts not visible: {exc.why}"
            logger.warning("clipboard sensor: %s", self._hotkeys_why)
            return
        self._listener = listener

    def teardown(self) -> None:
        if self._listener is not None:
            stop_input_listener(self._listener)
            self._listener = None
        super().teardown()

    def interval(self) -> float:
        return self.policy.clipboard_poll_s

    def _pressed(self) -> None:
        self._presses.put(self.clock.now())

    def observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> None:
        if kind == "page.open" and fields.get("url"):
            self._url = str(fields["url"])

    def poll(self) -> None:
        desktop = self.desktop()
        while not self._presses.empty():
            at = self._presses.get_nowait()
            app, title = self._front()
            self._hotkeys_pending.append(_Attempt(at, app, title))
        seq = desktop.clipboard_sequence()
        if seq != self._seq:
            self._seq = seq
            self._changes_pending.append(self._on_change())
        self._flush(self.clock.now())

    def _front(self) -> tuple[str, str]:
        window = self.desktop().foreground()
        return (window.app, window.title) if window else ("unknown", "")

    def _on_change(self) -> _Attempt:
        desktop = self.desktop()
        app, title = self._front()
        attempt = _Attempt(self.clock.now(), app, title)
        attempt.facts = inspect_text(desktop.clipboard_text(), self.policy.clipboard_preview)
        clear = attempt.facts.sensitive and self.policy.clear_sensitive_copies and self._sensitive_source(app)
        if clear and desktop.clear_clipboard():
            attempt.action = "cleared"
            self._seq = desktop.clipboard_sequence()
        return attempt

    def _sensitive_source(self, app: str) -> bool:
        if self.policy.is_sensitive_app(app):
            return True
        return self.policy.is_browser(app) and self.policy.is_customer_url(self._url)

    def _flush(self, now: datetime) -> None:
        window = timedelta(seconds=PAIR_WINDOW_S)
        ready: list[tuple[datetime, str, _Attempt]] = []
        for change in list(self._changes_pending):
            press = next((p for p in self._hotkeys_pending if abs(p.at - change.at) <= window), None)
            if press is not None:
                self._hotkeys_pending.remove(press)
                self._changes_pending.remove(change)
                ready.append((min(press.at, change.at), "hotkey", change))
            elif now - change.at >= window:
                self._changes_pending.remove(change)
                ready.append((change.at, "unknown", change))
        for press in list(self._hotkeys_pending):
            if now - press.at >= window and not self._changes_pending:
                self._hotkeys_pending.remove(press)
                ready.append((press.at, "hotkey", press))
        for at, trigger, attempt in sorted(ready, key=lambda item: item[0]):
            self.emit("clipboard.copy", _fields(attempt, trigger), at)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["hotkeys"] = self._listener is not None
        if self._hotkeys_why:
            out["hotkeys_why"] = self._hotkeys_why
        return out


def _fields(attempt: _Attempt, trigger: str) -> dict[str, Any]:
    facts = attempt.facts or CopyFacts(0, dict.fromkeys(CLASS_KEYS, 0), None, False)
    out: dict[str, Any] = {"app": attempt.app, "title": attempt.title, "trigger": trigger,
                           "chars": facts.chars, "classes": dict(facts.classes), "action": attempt.action}
    if facts.preview is not None:
        out["preview"] = facts.preview
    return out
