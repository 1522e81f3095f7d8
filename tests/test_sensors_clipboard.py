"""Copy attempts (clipboard.copy): shortcut presses, clipboard changes, masked previews, clearing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sensors import AgentPolicy
from agent.sensors.clipboard import ClipboardSensor, inspect_text
from agent.sensors.platform import Window
from agent.sensors.platform.x11 import X11Desktop
from contract.masking import classify, mask_text
from simulator.testing.sensors import FakeClock, ListSink, XSession, display_env, xvfb

ID_NUMBER = "110101199003071233"  # a valid 18-digit ID (check digit 3)
PHONE = "13812345678"
RAW = f"Customer Wang Fang, ID {ID_NUMBER}, mobile {PHONE}, owes 12,400.00 since March; call back Friday"


def expected_preview(text: str) -> str:
    return " ".join(mask_text(text).split())[:64]


def copy_fields(app: str, title: str, trigger: str, text: str | None, action: str = "allowed") -> dict[str, object]:
    """The clipboard.copy fields the sensor must emit for ``text`` (classes from the shared classifier)."""
    if not text:
        return {"app": app, "title": title, "trigger": trigger, "chars": 0,
                "classes": {"id_number": 0, "phone": 0, "bank_card": 0}, "action": action}
    found = classify(text)
    return {"app": app, "title": title, "trigger": trigger, "chars": len(text),
            "classes": {k: found.get(k, 0) for k in ("id_number", "phone", "bank_card")},
            "action": action, "preview": expected_preview(text)}


def test_inspection_keeps_counts_and_a_masked_preview_only() -> None:
    facts = inspect_text(RAW, preview=True)
    assert facts.chars == len(RAW) and facts.sensitive
    assert facts.preview == expected_preview(RAW) and len(facts.preview) <= 64
    assert ID_NUMBER not in (facts.preview or "")
    assert inspect_text(RAW, preview=False).preview is None
    assert inspect_text("  \n ", preview=True).preview is None
    assert not inspect_text("lunch at noon", preview=True).sensitive


# ---- the pairing logic, on a scripted desktop and a settable clock --------------------------------


class ScriptedDesktop:
    """An OS layer whose answers the test sets: foreground window, clipboard counter and text."""

    kind = "scripted"

    def __init__(self) -> None:
        self.window = Window(1, "crm", "Case 1 - CRM", 10)
        self.seq = 0
        self.text: str | None = None
        self.cleared = 0

    def foreground(self) -> Window | None:
        return self.window

    def idle_seconds(self) -> float | None:
        return 0.0

    def clipboard_sequence(self) -> int:
        return self.seq

    def clipboard_text(self) -> str | None:
        return self.text

    def clear_clipboard(self) -> bool:
        self.cleared += 1
        self.text = None
        return True

    def close(self) -> None:
        pass

    def copy(self, text: str) -> None:
        self.seq += 1
        self.text = text


def scripted(policy: AgentPolicy) -> tuple[ClipboardSensor, ScriptedDesktop, FakeClock, ListSink]:
    desk, clock, sink = ScriptedDesktop(), FakeClock(), ListSink()
    sensor = ClipboardSensor(sink, policy, clock, desktop=lambda: desk, hotkeys=False)
    sensor.setup()
    return sensor, desk, clock, sink


def test_a_press_and_a_change_are_one_attempt_and_lone_signals_still_count() -> None:
    sensor, desk, clock, sink = scripted(AgentPolicy())
    start = clock.now()
    sensor._pressed()  # what the pynput hotkey callback does
    clock.advance(0.2)
    desk.copy(RAW)
    sensor.poll()
    clock.advance(10)
    desk.copy("lunch at noon")  # a menu copy or a script: no shortcut
    sensor.poll()
    clock.advance(1.0)
    sensor.poll()
    clock.advance(1.0)
    sensor._pressed()  # a shortcut that copied nothing
    sensor.poll()
    clock.advance(2.0)
    sensor.poll()
    assert [(r.fields, (r.ts - start).total_seconds()) for r in sink.records] == [
        (copy_fields("crm", "Case 1 - CRM", "hotkey", RAW), 0.0),
        (copy_fields("crm", "Case 1 - CRM", "unknown", "lunch at noon"), 10.2),
        (copy_fields("crm", "Case 1 - CRM", "hotkey", None), 12.2),
    ]
    sink.as_v1()


def test_sensitive_copies_out_of_sensitive_apps_or_customer_pages_are_cleared() -> None:
    policy = AgentPolicy(sensitive_apps=["crm*"], clear_sensitive_copies=True,
                         customer_url_patterns=[r"^https://crm\.lender\.example/customer/"])
    sensor, desk, clock, sink = scripted(policy)
    desk.copy(RAW)
    sensor.poll()
    desk.copy("harmless words")  # not sensitive: stays
    sensor.poll()
    desk.window = Window(2, "chrome", "Customer - Google Chrome", 11)
    sensor.observe("page.open", {"url": "https://crm.lender.example/customer/9", "title": "C", "app": "chrome"},
                   clock.now())
    desk.copy(PHONE)
    sensor.poll()
    desk.window = Window(3, "notepad", "notes.txt", 12)
    desk.copy(ID_NUMBER)  # sensitive, but not out of a sensitive app: allowed
    sensor.poll()
    clock.advance(2)
    sensor.poll()
    assert [r.fields["action"] for r in sink.records] == ["cleared", "allowed", "cleared", "allowed"]
    assert desk.cleared == 2


# ---- on a real X display: xdotool presses ctrl+c, xclip fills the clipboard -----------------------


@pytest.fixture(scope="module")
def x() -> Iterator[XSession]:
    with xvfb() as session, display_env(session):
        yield session


@pytest.fixture()
def crm(x: XSession, tmp_path: Path) -> int:
    window = x.open_window("Case 4001 - CRM", "crm", tmp_path)
    x.xdotool("windowactivate", "--sync", str(window))
    return window


def test_copies_on_a_real_desktop(x: XSession, crm: int) -> None:
    sink = ListSink()
    sensor = ClipboardSensor(sink, AgentPolicy(clipboard_poll_s=0.1))
    sensor.start()
    try:
        assert sensor.status()["hotkeys"] is True
        x.xdotool("key", "ctrl+c")  # the shortcut ...
        x.copy_text(RAW)  # ... and what the app then puts on the clipboard
        sink.wait_kind("clipboard.copy", 1)
        x.xdotool("type", "abc")  # ordinary typing is not a copy and is never recorded
        x.xdotool("key", "ctrl+x")  # a cut with nothing selected: an attempt without content
        sink.wait_kind("clipboard.copy", 2)
        x.copy_text("Meeting at 3pm")  # no shortcut: a menu or a script
        sink.wait_kind("clipboard.copy", 3)
    finally:
        sensor.stop()
    assert [r.fields for r in sink.records] == [
        copy_fields("crm", "Case 4001 - CRM", "hotkey", RAW),
        copy_fields("crm", "Case 4001 - CRM", "hotkey", None),
        copy_fields("crm", "Case 4001 - CRM", "unknown", "Meeting at 3pm"),
    ]
    shipped = json.dumps(sink.as_v1())
    assert RAW not in shipped and ID_NUMBER not in shipped and "abc" not in shipped
    assert f"ID {'*' * 14}1233" in sink.records[0].fields["preview"]


def test_a_sensitive_copy_in_a_sensitive_app_is_cleared_for_real(x: XSession, crm: int) -> None:
    policy = AgentPolicy(clipboard_poll_s=0.1, sensitive_apps=["crm"], clear_sensitive_copies=True)
    sink = ListSink()
    sensor = ClipboardSensor(sink, policy)
    sensor.start()
    try:
        x.xdotool("key", "ctrl+c")
        x.copy_text(f"ID {ID_NUMBER}")
        record = sink.wait_kind("clipboard.copy", 1)[0]
    finally:
        sensor.stop()
    assert record.fields == copy_fields("crm", "Case 4001 - CRM", "hotkey", f"ID {ID_NUMBER}", action="cleared")
    desktop = X11Desktop(x.display)
    try:
        assert desktop.clipboard_text() is None  # nothing left to paste elsewhere
    finally:
        desktop.close()
