"""Drives appearing and disappearing (device.mount / device.unmount), by polling psutil."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from agent.sensors.base import Clock, EventSink, PollingSensor
from agent.sensors.policy import AgentPolicy


@dataclass(frozen=True)
class Mount:
    mountpoint: str
    fs: str
    label: str
    removable: bool

    def fields(self) -> dict[str, Any]:
        return {"mountpoint": self.mountpoint, "fs": self.fs, "label": self.label,
                "removable": self.removable}


def list_mounts() -> list[Mount]:
    """Mounted physical drives, as psutil sees them, with a label and a removable flag."""
    try:
        parts = psutil.disk_partitions(all=False)
    except OSError:
        return []
    return [Mount(p.mountpoint, p.fstype, _label(p.device, p.mountpoint),
                  _removable(p.device, p.mountpoint, p.opts)) for p in parts]


def _removable(device: str, mountpoint: str, opts: str) -> bool:
    if sys.platform == "win32":
        flags = {o.strip() for o in opts.split(",")}
        return bool(flags & {"removable", "cdrom"})
    if sys.platform == "darwin":
        return mountpoint.startswith("/Volumes/")
    if mountpoint.startswith(("/media/", "/run/media/")):
        return True
    return _sysfs_removable(Path(device).name) if device.startswith("/dev/") else False


def _sysfs_removable(name: str) -> bool:
    node = Path("/sys/class/block") / name
    try:
        real = node.resolve()
    except OSError:
        return False
    if "/usb" in str(real):
        return True
    for candidate in (real / "removable", real.parent / "removable"):  # disk, or the disk of a partition
        try:
            return candidate.read_text().strip() == "1"
        except OSError:
            continue
    return False


def _label(device: str, mountpoint: str) -> str:
    if sys.platform == "win32":
        from agent.sensors.platform.windows import volume_label

        return volume_label(mountpoint)
    by_label = Path("/dev/disk/by-label")
    if sys.platform.startswith("linux") and by_label.is_dir():
        try:
            target = os.path.realpath(device)
            for link in by_label.iterdir():
                if os.path.realpath(link) == target:
                    return _unescape(link.name)
        except OSError:
            pass  # no udev links (containers): fall back to the folder name below
    return Path(mountpoint).name


def _unescape(name: str) -> str:
    """udev writes unsafe label bytes as \\xNN."""
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), name.encode())
    return raw.decode("utf-8", "replace")


class DeviceSensor(PollingSensor):
    name = "devices"

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None, mounts: Callable[[], list[Mount]] = list_mounts) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._mounts = mounts
        self._known: dict[str, Mount] = {}

    def interval(self) -> float:
        return self.policy.device_poll_s

    def setup(self) -> None:
        self._known = {m.mountpoint: m for m in self._mounts()}
        for mount in self._known.values():  # a drive plugged in before the agent started still counts
            if mount.removable:
                self.emit("device.mount", mount.fields())

    def poll(self) -> None:
        now = self.clock.now()
        current = {m.mountpoint: m for m in self._mounts()}
        for point in sorted(set(self._known) - set(current)):
            self.emit("device.unmount", self._known[point].fields(), now)
        for point in sorted(set(current) - set(self._known)):
            self.emit("device.mount", current[point].fields(), now)
        self._known = current

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["removable"] = sorted(p for p, m in self._known.items() if m.removable)
        return out
