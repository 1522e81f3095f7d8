"""File changes in watched folders and on removable drives (file.write), through watchdog.

The OS reports a saved file as a burst (created, modified, modified, closed); the sensor reports one
change per file once the file has been quiet for ``file_settle_s``, with its final size:
- created then written: one "created"; created then renamed (a finished download): "created" at the
  final name; created and deleted within the settle time (temporary files): nothing;
- "moved" is reported at once; a move between two watched folders reaches us as deleted + created
  and is put back together (same inode as a file reported before, else same name within the
  settle time); "deleted" is reported after the settle time;
- removable drives mounted while the agent runs are watched as soon as the devices sensor reports them.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from agent.sensors.base import Clock, EventSink, Sensor
from agent.sensors.devices import list_mounts
from agent.sensors.policy import AgentPolicy, glob_any

logger = logging.getLogger(__name__)

IGNORED_NAMES = (".~lock.*", "~$*", ".goutputstream-*", "*.swp", "*.swx", "4913")
_INODE_MEMORY = 4096
MIN_SETTLE_S = 0.75
_OPS = frozenset({"created", "modified", "moved", "deleted", "closed"})


@dataclass
class _Pending:
    op: str
    ts: datetime
    last: float
    inode: int = 0


class _Relay(FileSystemEventHandler):
    def __init__(self, inbox: queue.SimpleQueue[tuple[str, str, str, datetime]], clock: Clock) -> None:
        self._inbox = inbox
        self._clock = clock

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in _OPS:
            return
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        self._inbox.put((event.event_type, os.fsdecode(event.src_path), dest, self._clock.now()))


class FileSensor(Sensor):
    name = "files"
    observes = frozenset({"device.mount", "device.unmount"})

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._inbox: queue.SimpleQueue[tuple[str, str, str, datetime]] = queue.SimpleQueue()
        self._pending: dict[str, _Pending] = {}
        self._gone: dict[str, _Pending] = {}
        self._inodes: dict[str, int] = {}
        self._watches: dict[str, Any] = {}
        self._removable: set[str] = set()
        self._missing: list[str] = []
        self._observer: Any = None
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop_event.clear()
        self._observer = Observer()
        self._observer.start()
        self._missing = []
        for folder in self.policy.watched_paths():
            if folder.is_dir():
                self._watch(str(folder), removable=False)
            else:
                self._missing.append(str(folder))
        for mount in list_mounts():
            if mount.removable:
                self._watch(mount.mountpoint, removable=True)
        self._thread = threading.Thread(target=self._run, name="sensor-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop_event.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(10.0)
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(10.0)
        with self._lock:
            self._watches.clear()

    def status(self) -> dict[str, Any]:
        out = super().status()
        with self._lock:
            out["watching"] = sorted(self._watches)
        if self._missing:
            out["missing"] = list(self._missing)
        return out

    def observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> None:
        if not fields.get("removable") or self._observer is None:
            return
        if kind == "device.mount":
            self._watch(str(fields["mountpoint"]), removable=True)
        else:
            self._unwatch(str(fields["mountpoint"]))

    def _watch(self, path: str, removable: bool) -> None:
        with self._lock:
            if path in self._watches:
                return
            try:
                relay = _Relay(self._inbox, self.clock)
                self._watches[path] = self._observer.schedule(relay, path, recursive=True)
            except OSError as exc:
                logger.warning("files sensor: cannot watch %s: %s", path, exc)
                return
            if removable:
                self._removable.add(path)

    def _unwatch(self, path: str) -> None:
        with self._lock:
            watch = self._watches.pop(path, None)
            self._removable.discard(path)
            if watch is None:
                return
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError) as exc:  # the drive vanished with its watch
                logger.debug("files sensor: unwatch %s: %s", path, exc)

    # ---- coalescing ---------------------------------------------------------------------------

    def _run(self) -> None:
        # watchdog holds an unpaired "moved from" for 0.5 s before calling it deleted: wait longer
        # than that before reporting a new file, so that a move between folders can be put together
        settle = max(self.policy.file_settle_s, MIN_SETTLE_S)
        while not self._stop_event.is_set():
            due = [p.last + settle for p in self._pending.values()]
            timeout = max(min(due) - time.monotonic(), 0.01) if due else 0.5
            try:
                op, src, dest, ts = self._inbox.get(timeout=timeout)
            except queue.Empty:
                pass
            else:
                self._apply(op, src, dest, ts)
            self._flush(time.monotonic() - settle)

    def _apply(self, op: str, src: str, dest: str, ts: datetime) -> None:
        if _ignored(src) and (op != "moved" or _ignored(dest)):
            return
        mono = time.monotonic()
        pending = self._pending.get(src)
        if op == "created":
            origin = self._moved_from(src)
            if origin is not None:  # a move between two watched folders arrives as deleted + created
                self._report(origin[0], "moved", origin[1].ts, src)
            else:
                self._pending[src] = _Pending("created", ts, mono)
        elif op in ("modified", "closed"):
            if pending is not None:
                pending.last = mono
            elif op == "modified":
                self._pending[src] = _Pending("modified", ts, mono)
        elif op == "deleted":
            self._pending.pop(src, None)
            inode = self._inodes.pop(src, 0)
            if pending is not None and pending.op == "created":
                return  # a temporary file, gone before it settled
            target = self._moved_to(src, inode)
            if target is not None:  # the created half of a move between watched folders came first
                self._report(src, "moved", min(ts, target[1].ts), target[0])
            else:
                self._gone[src] = _Pending("deleted", ts, mono, inode)
        else:  # moved within one watched tree
            self._pending.pop(src, None)
            self._pending.pop(dest, None)
            if pending is not None and pending.op == "created":  # e.g. a finished download
                self._pending[dest] = _Pending("created", pending.ts, mono)
            elif _ignored(src):  # an editor's atomic save over the real file
                self._pending[dest] = _Pending("modified", ts, mono)
            else:
                self._report(src, "moved", ts, dest)

    def _moved_from(self, path: str) -> tuple[str, _Pending] | None:
        """The recently deleted path that ``path`` is really a move of: same inode, else same name."""
        if not self._gone:
            return None
        stat = _stat(path)
        inode = stat.st_ino if stat is not None else 0
        for old, gone in self._gone.items():
            if (inode and gone.inode == inode) or os.path.basename(old) == os.path.basename(path):
                del self._gone[old]
                return old, gone
        return None

    def _moved_to(self, path: str, inode: int) -> tuple[str, _Pending] | None:
        """A not yet reported new file that ``path`` (just deleted) is really a move to."""
        for new, pending in self._pending.items():
            if pending.op != "created":
                continue
            stat = _stat(new)
            same_inode = bool(inode) and stat is not None and stat.st_ino == inode
            if same_inode or os.path.basename(new) == os.path.basename(path):
                del self._pending[new]
                return new, pending
        return None

    def _flush(self, quiet_before: float) -> None:
        for path, pending in list(self._pending.items()):
            if pending.last <= quiet_before:
                del self._pending[path]
                if os.path.lexists(path):
                    self._report(path, pending.op, pending.ts)
        for path, gone in list(self._gone.items()):
            if gone.last <= quiet_before:
                del self._gone[path]
                self._report(path, "deleted", gone.ts)

    def _report(self, path: str, op: str, ts: datetime, dest: str = "") -> None:
        fields: dict[str, Any] = {"path": path, "op": op}
        stat = _stat(dest or path) if op != "deleted" else None
        if stat is not None:
            fields["size"] = stat.st_size
            self._remember(dest or path, stat.st_ino)
        fields["removable"] = self._on_removable(path) or (bool(dest) and self._on_removable(dest))
        if dest:
            fields["dest_path"] = dest
        self.emit("file.write", fields, ts)

    def _remember(self, path: str, inode: int) -> None:
        if len(self._inodes) >= _INODE_MEMORY:
            del self._inodes[next(iter(self._inodes))]
        self._inodes[path] = inode

    def _on_removable(self, path: str) -> bool:
        with self._lock:
            roots = list(self._removable)
        return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _ignored(path: str) -> bool:
    return glob_any(IGNORED_NAMES, os.path.basename(path))


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None
