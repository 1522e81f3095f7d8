"""Test and benchmark helpers for the sensors: a list-backed sink, a settable clock, a virtual X display.

Nothing here is used by the running agent. Everything waits on a condition with a deadline; nothing
sleeps for a fixed time and hopes.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contract.schema import format_ts, validate_event


@dataclass(frozen=True)
class Record:
    kind: str
    fields: dict[str, Any]
    ts: datetime


class ListSink:
    """Keeps every event (and blob) in memory; ``wait_for`` blocks until a condition holds."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.blobs: dict[str, bytes] = {}
        self._cond = threading.Condition()

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None:
        with self._cond:
            self.records.append(Record(kind, dict(fields), ts or datetime.now(UTC)))
            self._cond.notify_all()

    def emit_blob(self, blob_id: str, data: bytes) -> None:
        with self._cond:
            self.blobs[blob_id] = bytes(data)
            self._cond.notify_all()

    def of(self, *kinds: str) -> list[Record]:
        with self._cond:
            return [r for r in self.records if r.kind in kinds]

    def wait_for(self, predicate: Callable[[list[Record]], bool], timeout: float = 10.0,
                 what: str = "condition") -> list[Record]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.records):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; got "
                                         f"{[(r.kind, r.fields) for r in self.records]}")
                self._cond.wait(remaining)
            return list(self.records)

    def wait_kind(self, kind: str, count: int = 1, timeout: float = 10.0,
                  where: Callable[[Record], bool] | None = None) -> list[Record]:
        def matching(records: list[Record]) -> list[Record]:
            return [r for r in records if r.kind == kind and (where is None or where(r))]

        self.wait_for(lambda rs: len(matching(rs)) >= count, timeout, f"{count} x {kind}")
        return matching(self.records)

    def clear(self) -> None:
        with self._cond:
            self.records.clear()

    def as_v1(self, agent_id: str = "test-seat-1") -> list[dict[str, Any]]:
        """Every record as a validated schema-v1 event, the envelope added as the runner would."""
        with self._cond:
            records = list(self.records)
        return [validate_event({"schema": 1, "agent_id": agent_id, "seq": i, "ts": format_ts(r.ts),
                                "kind": r.kind, **r.fields}) for i, r in enumerate(records, 1)]


class NullSink:
    """Counts events and forgets them (benchmark)."""

    def __init__(self) -> None:
        self.count = 0

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None:
        self.count += 1


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2025, 3, 3, 1, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> datetime:
        self.moment += timedelta(seconds=seconds)
        return self.moment


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
               every: float = 0.05) -> Any:
    """Re-check ``check`` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(every)


@dataclass
class XSession:
    """A running Xvfb (optionally with a window manager) and helpers to act on it."""

    display: str
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 10.0, input: bytes | None = None) -> str:
        out = subprocess.run(args, env=self.env, input=input, capture_output=True, timeout=timeout,
                             check=True)
        return out.stdout.decode(errors="replace").strip()

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def xdotool(self, *args: str) -> str:
        return self.run("xdotool", *args)

    def open_window(self, title: str, app: str, folder: Path) -> int:
        """Open an xmessage window with ``title`` from a program named ``app``; return its window id."""
        exe = folder / app
        if not exe.exists():
            shutil.copy("/usr/bin/xmessage", exe)
        self.spawn(str(exe), "-title", title, "-geometry", "400x200+50+50", "SeatGuard test window")
        found = wait_until(lambda: self._search(title), 10.0, f"window {title!r}")
        return int(found)

    def _search(self, title: str) -> str:
        out = subprocess.run(["xdotool", "search", "--name", f"^{title}$"], env=self.env,
                             capture_output=True, timeout=10)
        ids = out.stdout.decode().split()
        return ids[-1] if ids else ""

    def copy_text(self, text: str) -> None:
        """Put ``text`` on the CLIPBOARD with xclip (which keeps serving it in the background)."""
        subprocess.run(["xclip", "-selection", "clipboard", "-i"], env=self.env, input=text.encode(),
                       timeout=10, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _free_display(proc: subprocess.Popen[bytes], read_fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            raise RuntimeError("Xvfb did not report its display number")
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if ready:
            chunk = os.read(read_fd, 64)
            if not chunk:
                raise RuntimeError("Xvfb closed its display pipe")
            data += chunk
    return ":" + data.decode().strip()


@contextmanager
def xvfb(window_manager: Sequence[str] | None = ("openbox", "--sm-disable"), size: str = "1280x800",
         timeout: float = 20.0) -> Iterator[XSession]:
    """Start ``Xvfb`` on a free display (``-displayfd``: the server picks it) and, unless told not to,
    a window manager; wait until both are ready; stop them (and anything spawned) at the end."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{size}x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    session: XSession | None = None
    try:
        display = _free_display(server, read_fd, timeout)
        socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
        wait_until(socket.exists, timeout, f"X socket {socket}")
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
        env["DISPLAY"] = display
        session = XSession(display, env)
        if window_manager:
            session.spawn(*window_manager)
            wait_until(lambda: _wm_ready(display), timeout, "window manager")
        yield session
    finally:
        os.close(read_fd)
        for proc in reversed(session.procs if session else []):
            _stop(proc)
        _stop(server)


def _wm_ready(display: str) -> bool:
    import Xlib.display

    d = Xlib.display.Display(display)
    try:
        prop = d.screen().root.get_full_property(d.intern_atom("_NET_SUPPORTING_WM_CHECK"), 0)
        return prop is not None and len(prop.value) > 0
    finally:
        d.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def display_env(session: XSession) -> Iterator[None]:
    """Point this process's DISPLAY at the session (sensors open their own connections from it)."""
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    os.environ["DISPLAY"] = session.display
    os.environ.pop("WAYLAND_DISPLAY", None)
    os.environ.pop("XDG_SESSION_TYPE", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
