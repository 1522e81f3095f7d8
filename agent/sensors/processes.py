"""Process starts (process.start) with a policy category, by polling psutil for new process ids.

Remote-access tools, screen recorders and messaging apps are reported whoever runs them (AnyDesk's
service runs as SYSTEM), including those already running when the agent starts; other processes
only when they belong to the seat's user and the policy asks for them. The event moment is the
process's own start time. A new process is reported one poll after it is first seen, under the name
it has then, so that a fork caught before its exec is reported as the program it became.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from agent.sensors.base import Clock, EventSink, PollingSensor
from agent.sensors.policy import AgentPolicy


class ProcessSensor(PollingSensor):
    name = "processes"

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._known: set[int] = set()
        self._unconfirmed: dict[int, tuple[dict[str, Any] | None, datetime | None]] = {}
        self._user = ""

    def interval(self) -> float:
        return self.policy.process_poll_s

    def setup(self) -> None:
        try:
            self._user = psutil.Process().username()
        except (psutil.Error, OSError):
            self._user = getpass.getuser()
        self._known = set(psutil.pids())
        for pid in sorted(self._known):
            self._report(*self._describe(pid), categorized_only=True)

    def teardown(self) -> None:
        self._confirm(set(psutil.pids()))

    def poll(self) -> None:
        current = set(psutil.pids())
        self._confirm(current)
        self._unconfirmed = {pid: self._describe(pid) for pid in sorted(current - self._known)}
        self._known = current

    def _confirm(self, current: set[int]) -> None:
        """Report the processes first seen by the previous poll.

        A process caught between fork and exec still shows its parent's name; one poll later it shows
        the program it became, which is what gets reported (at its original start time).
        """
        for pid, first in self._unconfirmed.items():
            now = self._describe(pid) if pid in current else (None, None)
            same_process = now[0] is not None and (first[1] is None or now[1] == first[1])
            self._report(*(now if same_process else first), categorized_only=False)
        self._unconfirmed = {}

    def _report(self, fields: dict[str, Any] | None, started: datetime | None, categorized_only: bool) -> None:
        if fields is None or started is None:
            return
        if fields["category"] == "other" and (categorized_only or not self.policy.report_other_processes):
            return
        self.emit("process.start", fields, started)

    def _describe(self, pid: int) -> tuple[dict[str, Any] | None, datetime | None]:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                name = proc.name()
                started = datetime.fromtimestamp(proc.create_time(), UTC)
                try:
                    exe = proc.exe()
                except (psutil.AccessDenied, psutil.ZombieProcess, OSError):
                    exe = ""
                category = self.policy.category_of(name, os.path.basename(exe))
                if category == "other" and self._owner(proc) != self._user:
                    return None, None
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            return None, None  # gone already, or a protected system process
        return {"name": name, "exe": exe, "pid": pid, "category": category}, started

    @staticmethod
    def _owner(proc: psutil.Process) -> str:
        try:
            return proc.username()
        except (psutil.Error, OSError, KeyError):
            return ""

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["user"] = self._user
        return out
