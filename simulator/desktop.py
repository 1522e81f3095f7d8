"""What the endpoint agent sees on one PC: running processes, the foreground window, pages, copies, files.

:class:`Desktop` turns "the person did X at time t" into schema-v1 event records. It keeps just enough
state to stay consistent: a window only produces ``app.focus`` when it really changes, a program
produces ``process.start`` the first time it is used after boot, and a copy is attributed to the window
in front.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random
from typing import Any

from simulator.apps import EXPLORER, App


@dataclass(slots=True)
class Record:
    """One event before numbering: local time in ms, kind, fields; ``raw`` lists the unmasked customer
    numbers it carries; ``lost`` marks an event the agent numbered but never spooled (killed process)."""

    t: int
    kind: str
    fields: dict[str, Any]
    raw: tuple[str, ...] = ()
    lost: bool = False
    prio: int = 1  # order among events of the same millisecond: agent.start 0, others 1, agent.stop 2


@dataclass(slots=True)
class Window:
    app: App
    title: str
    raw: tuple[str, ...] = ()


@dataclass
class Desktop:
    out: list[Record]
    rng: Random
    pids: dict[str, int] = field(default_factory=dict)
    front: Window | None = None

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A fresh boot: only the shell runs, nothing is in front yet."""
        self.pids = {EXPLORER.name: self._pid()}
        self.front = None

    def _pid(self) -> int:
        used = set(self.pids.values())
        while True:
            pid = self.rng.randrange(250, 12000) * 4
            if pid not in used:
                return pid

    def emit(self, t: int, kind: str, raw: tuple[str, ...] = (), **fields: Any) -> Record:
        record = Record(t, kind, fields, raw)
        self.out.append(record)
        return record

    def launch(self, t: int, app: App) -> int:
        """Start ``app`` unless it runs; return when its window can be used."""
        if app.name in self.pids:
            return t
        pid = self._pid()
        self.pids[app.name] = pid
        self.emit(t, "process.start", name=app.name, exe=app.exe, pid=pid, category=app.category)
        return t + self.rng.randint(800, 6000)

    def focus(self, t: int, app: App, title: str, raw: tuple[str, ...] = ()) -> int:
        """Bring a window to the front (``title`` without the app's suffix)."""
        t = self.launch(t, app)
        full = app.title(title)
        front = self.front
        if front is None or front.app is not app or front.title != full:
            self.emit(t, "app.focus", raw, app=app.name, title=full, pid=self.pids[app.name])
            self.front = Window(app, full, raw)
        return t

    def page(self, t: int, browser: App, url: str, title: str, raw: tuple[str, ...] = ()) -> int:
        """Open or navigate to a page and look at it."""
        t = self.launch(t, browser)
        self.emit(t, "page.open", raw, url=url, title=title, app=browser.name)
        return self.focus(t + 30 + int(self.rng.random() * 420), browser, title, raw)

    def copy(
        self,
        t: int,
        chars: int,
        preview: str | None = None,
        ids: int = 0,
        phones: int = 0,
        cards: int = 0,
        action: str = "allowed",
    ) -> None:
        """A copy in the window in front; ``preview`` must already be masked."""
        front = self.front or Window(EXPLORER, "")
        trigger = "hotkey" if self.rng.random() < 0.85 else "menu"
        fields: dict[str, Any] = {
            "app": front.app.name,
            "title": front.title,
            "trigger": trigger,
            "chars": chars,
            "classes": {"id_number": ids, "phone": phones, "bank_card": cards},
            "action": action,
        }
        if preview is not None:
            fields["preview"] = preview
        self.emit(t, "clipboard.copy", front.raw, **fields)

    def file(
        self, t: int, path: str, op: str, size: int | None, removable: bool = False, dest: str | None = None
    ) -> None:
        fields: dict[str, Any] = {"path": path, "op": op, "removable": removable}
        if size is not None:
            fields["size"] = size
        if dest is not None:
            fields["dest_path"] = dest
        self.emit(t, "file.write", **fields)
