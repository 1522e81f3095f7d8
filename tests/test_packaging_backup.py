"""Backup and restore of a collector's SQLite data folder (scripts/backup-collector.sh, restore-collector.sh).

A backup is taken while a collector ingests a replay; restored into a new folder it is a consistent
snapshot (whole batches, no holes). A backup of the idle, still serving collector restores to the
same ``stats``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from tests.conftest import (
    AGENT,
    COLLECTOR,
    DATA_DIRS,
    FAST_AGENT_ENV,
    ROOT,
    CollectorProcess,
    run_cli,
    stored_markers,
    wait_for,
    write_events,
)

BACKUP = str(ROOT / "scripts" / "backup-collector.sh")
RESTORE = str(ROOT / "scripts" / "restore-collector.sh")
BATCH = 500
TOTAL = 60_000


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": os.environ.get("PYTHON", "python3")})


def _stored(data: Path) -> int:
    conn = sqlite3.connect(f"file:{data / 'seatguard.db'}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _stats(data: Path) -> dict[str, object]:
    """The stored data's figures; without ``jobs``, the scheduled-job runs a serving collector keeps
    recording (silence checks, alert retries) between a backup and the comparison."""
    stats = json.loads(run_cli(COLLECTOR, "stats", "--data", str(data)))
    assert isinstance(stats.pop("jobs"), dict)
    return dict(stats)


def _backup_and_restore(data: Path, backup: Path, restored: Path) -> None:
    made = _script(BACKUP, "--data", str(data), "--out", str(backup))
    assert made.returncode == 0, made.stderr
    DATA_DIRS.append(backup)  # the privacy scan reads backups too
    back = _script(RESTORE, "--from", str(backup), "--data", str(restored))
    assert back.returncode == 0, back.stderr
    DATA_DIRS.append(restored)


def test_backup_while_ingesting_restores_a_consistent_snapshot(collector: CollectorProcess, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "backup-pc")
    events = write_events(tmp_path / "events.jsonl", TOTAL)
    env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": str(BATCH)}
    replay = subprocess.Popen([AGENT, "replay", "--home", str(home), "--wait", str(events)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _stored(collector.data) > 0, 120, what="the first stored batch")
        _backup_and_restore(collector.data, tmp_path / "backup-live", tmp_path / "restored-live")
        out, err = replay.communicate(timeout=300)
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.communicate()
    assert replay.returncode == 0, err
    assert json.loads(out)["drained"] == 1

    snapshot = _stats(tmp_path / "restored-live")
    live = _stats(collector.data)
    assert live["events"] == TOTAL
    stored = int(str(snapshot["events"]))
    assert 0 < stored <= TOTAL
    assert stored % BATCH == 0, "a batch is stored in one transaction: the snapshot holds whole batches"
    assert snapshot["batches"] == stored // BATCH
    assert sorted(stored_markers(tmp_path / "restored-live", "backup-pc")) == list(range(stored)), \
        "the snapshot is a prefix of the replay, without holes"
    assert snapshot["gaps"] == live["gaps"] == {}

    # the collector keeps serving; a backup of the idle folder restores to exactly the same stats
    _backup_and_restore(collector.data, tmp_path / "backup-idle", tmp_path / "restored-idle")
    assert _stats(tmp_path / "restored-idle") == _stats(collector.data) == live
    key = "collector_x25519.pem"
    assert (tmp_path / "restored-idle" / key).read_bytes() == (collector.data / key).read_bytes()
    assert oct((tmp_path / "backup-idle").stat().st_mode & 0o777) == "0o700"
    manifest = json.loads((tmp_path / "backup-idle" / "MANIFEST.json").read_text(encoding="utf-8"))
    assert {"seatguard.db", key} <= {f["path"] for f in manifest["files"]}
    assert not any(f["path"].endswith(("-wal", "-shm", ".log")) for f in manifest["files"])


def test_restore_refuses_an_altered_backup_and_a_used_folder(collector: CollectorProcess, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    made = _script(BACKUP, "--data", str(collector.data), "--out", str(backup))
    assert made.returncode == 0, made.stderr
    DATA_DIRS.append(backup)
    again = _script(BACKUP, "--data", str(collector.data), "--out", str(backup))
    assert again.returncode == 1 and "already exists" in again.stderr

    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    refused = _script(RESTORE, "--from", str(backup), "--data", str(used))
    assert refused.returncode == 1 and "not empty" in refused.stderr

    with (backup / "seatguard.db").open("r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff")
    altered = _script(RESTORE, "--from", str(backup), "--data", str(tmp_path / "new"))
    assert altered.returncode == 1 and "altered" in altered.stderr
    assert not (tmp_path / "new").exists()

    usage = _script(BACKUP, "--data")
    assert usage.returncode == 64
