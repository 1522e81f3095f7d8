"""File changes (file.write) in watched folders and on removable drives; drives (device.mount/unmount)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sensors import AgentPolicy, SensorSet
from agent.sensors.devices import DeviceSensor, Mount
from agent.sensors.files import FileSensor
from simulator.testing.sensors import FakeClock, ListSink, wait_until


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    downloads, desktop = tmp_path / "Downloads", tmp_path / "Desktop"
    downloads.mkdir()
    desktop.mkdir()
    return downloads, desktop


def test_file_changes_are_reported_once_per_burst(folders: tuple[Path, Path], tmp_path: Path) -> None:
    downloads, desktop = folders
    policy = AgentPolicy(watched_folders=[str(downloads), str(desktop), str(tmp_path / "Documents")],
                         file_settle_s=0.3)
    sink = ListSink()
    sensor = FileSensor(sink, policy)
    sensor.start()
    try:
        assert sensor.status()["missing"] == [str(tmp_path / "Documents")]
        report = downloads / "customers.csv"
        report.write_bytes(b"id,name\n" * 100)  # created + modified + closed: one "created"
        with report.open("ab") as fh:
            fh.write(b"1,x\n")
        sink.wait_kind("file.write", 1)
        with report.open("ab") as fh:
            fh.write(b"2,y\n")
        sink.wait_kind("file.write", 2)
        partial = downloads / "loan.pdf.crdownload"  # a browser download: written, then renamed
        partial.write_bytes(b"%PDF" + b"0" * 996)
        partial.rename(downloads / "loan.pdf")
        sink.wait_kind("file.write", 3)
        report.rename(desktop / "customers-copy.csv")
        sink.wait_kind("file.write", 4)
        (desktop / "customers-copy.csv").unlink()
        sink.wait_kind("file.write", 5)
        scratch = desktop / "scratch.tmp"  # created and gone again before it settled: nothing
        scratch.write_text("x")
        scratch.unlink()
        (desktop / "last.txt").write_text("done")
        sink.wait_kind("file.write", 6)
    finally:
        sensor.stop()
    assert [r.fields for r in sink.records] == [
        {"path": str(report), "op": "created", "size": 804, "removable": False},
        {"path": str(report), "op": "modified", "size": 808, "removable": False},
        {"path": str(downloads / "loan.pdf"), "op": "created", "size": 1000, "removable": False},
        {"path": str(report), "op": "moved", "size": 808, "removable": False,
         "dest_path": str(desktop / "customers-copy.csv")},
        {"path": str(desktop / "customers-copy.csv"), "op": "deleted", "removable": False},
        {"path": str(desktop / "last.txt"), "op": "created", "size": 4, "removable": False},
    ]
    sink.as_v1()


def test_drives_appearing_and_disappearing() -> None:
    drives = [Mount("/", "ext4", "", False)]
    sink = ListSink()
    sensor = DeviceSensor(sink, AgentPolicy(), FakeClock(), mounts=lambda: list(drives))
    sensor.setup()
    assert sink.records == []  # fixed disks present at start are not news
    drives.append(Mount("/media/agent/KINGSTON", "vfat", "KINGSTON", True))
    sensor.poll()
    drives.pop()
    sensor.poll()
    sensor.poll()
    usb = {"mountpoint": "/media/agent/KINGSTON", "fs": "vfat", "label": "KINGSTON", "removable": True}
    assert [(r.kind, r.fields) for r in sink.records] == [("device.mount", usb), ("device.unmount", usb)]
    again = DeviceSensor(sink, AgentPolicy(), FakeClock(), mounts=lambda: [*drives, Mount(**usb)])  # type: ignore[arg-type]
    again.setup()  # plugged in before the agent started: still reported
    assert sink.records[-1].fields == usb
    sink.as_v1()


def _can_loop_mount() -> str:
    if os.geteuid() != 0:
        return "needs root to mount a loop device"
    if not (shutil.which("mkfs.ext2") and shutil.which("mount")):
        return "needs mkfs.ext2 and mount"
    return ""


@pytest.fixture()
def usb_image(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A small ext2 image and a mount point under /media, as a desktop automounter would use."""
    image = tmp_path / "usb.img"
    with image.open("wb") as fh:
        fh.truncate(4 << 20)
    subprocess.run(["mkfs.ext2", "-q", "-L", "SGUSB", str(image)], check=True, timeout=30)
    point = Path("/media") / f"seatguard-test-{uuid.uuid4().hex[:8]}" / "SGUSB"
    point.mkdir(parents=True)
    try:
        yield image, point
    finally:
        subprocess.run(["umount", str(point)], capture_output=True, timeout=30)
        shutil.rmtree(point.parent, ignore_errors=True)


def test_a_real_removable_drive_is_reported_and_watched(usb_image: tuple[Path, Path], tmp_path: Path) -> None:
    reason = _can_loop_mount()
    if reason:
        pytest.skip(reason)
    image, point = usb_image
    policy = AgentPolicy(watched_folders=[str(tmp_path)], device_poll_s=0.1, file_settle_s=0.2)
    sink = ListSink()
    sensors = SensorSet(sink, policy, names=["devices", "files"])
    sensors.start()
    try:
        mounted = subprocess.run(["mount", "-o", "loop", str(image), str(point)], capture_output=True, timeout=30)
        if mounted.returncode != 0:
            pytest.skip(f"loop mounts are not allowed here: {mounted.stderr.decode().strip()}")
        sink.wait_kind("device.mount")
        wait_until(lambda: str(point) in sensors.status()["files"]["watching"], 5, "watch on the drive")
        (point / "export.xlsx").write_bytes(b"x" * 2048)
        sink.wait_kind("file.write")
        subprocess.run(["umount", str(point)], check=True, timeout=30)
        sink.wait_kind("device.unmount")
    finally:
        sensors.stop()
    usb = {"mountpoint": str(point), "fs": "ext2", "label": "SGUSB", "removable": True}
    assert [(r.kind, r.fields) for r in sink.records] == [
        ("device.mount", usb),
        ("file.write", {"path": str(point / "export.xlsx"), "op": "created", "size": 2048, "removable": True}),
        ("device.unmount", usb),
    ]
    sink.as_v1()
