"""The spool on disk: bounded, damage-tolerant, disk-full tolerant, never reusing a sequence number."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import SpoolError
from agent.spool import Spool
from tests.conftest import AGENT, FAST_AGENT_ENV, CollectorProcess, run_cli, wait_for, write_events


def fake_seal(batch_seq: int, prev: str, events: list[object]) -> tuple[bytes, str]:
    return json.dumps({"b": batch_seq, "n": len(events), "pad": "x" * 1000}).encode(), f"{batch_seq:064d}"


def test_bounded_spool_drops_oldest_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=10_000).open()
    for _ in range(30):
        spool.append([{"k": 1}] * 7, fake_seal)
    stats = spool.stats()
    assert stats["bytes"] <= 10_000
    assert stats["dropped_batches"] == 30 - stats["depth_batches"] > 0
    assert stats["dropped_events"] == 7 * stats["dropped_batches"]
    assert spool.peek() is not None and spool.peek().batch_seq == 31 - stats["depth_batches"]  # type: ignore[union-attr]
    assert stats["next_seq"] == 30 * 7 + 1  # numbers are never reused, dropped or not


def test_counters_survive_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db").open()
    spool.append([{"k": 1}] * 3, fake_seal)
    spool.ack(1)
    spool.close()
    again = Spool(tmp_path / "spool.db").open()
    res = again.append([{"k": 1}], fake_seal)
    assert (res.batch_seq, res.first_seq) == (2, 4)


def test_future_format_is_refused_clearly(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db").open()
    spool.set_meta("format_version", "99")
    spool.close()
    from agent.errors import SpoolError

    with pytest.raises(SpoolError, match="format 99"):
        Spool(tmp_path / "spool.db").open()


@pytest.mark.parametrize("damage", ["truncate", "overwrite"])
def test_damaged_spool_delivers_every_intact_batch_and_counts_the_rest(
        collector: CollectorProcess, tmp_path: Path, damage: str) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-dmg")
    collector.stop()
    n = 6000
    events = write_events(tmp_path / "d.jsonl", n, with_ids=False)
    env = {**FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": "100"}
    run_cli(AGENT, "replay", "--home", str(home), str(events), env=env)
    db = home / "spool.db"
    on_disk = b"".join(p.read_bytes() for p in home.glob("spool.*"))
    assert b"line-1" not in on_disk and "客户".encode() not in on_disk, "the spool holds sealed batches only"
    assert not Path(str(db) + "-wal").exists() or Path(str(db) + "-wal").stat().st_size == 0
    size = db.stat().st_size
    with db.open("r+b") as fh:
        if damage == "truncate":
            fh.truncate(int(size * 0.6))
        else:
            rng = random.Random(3)
            fh.seek(int(size * 0.5))
            fh.write(bytes(rng.randrange(256) for _ in range(8192)))
    status = json.loads(run_cli(AGENT, "status", "--home", str(home), "--json"))
    lost_batches = status["spool"]["lost_corrupt_batches"]
    assert lost_batches > 0 and status["spool"]["depth_batches"] > 0
    assert status["spool"]["depth_batches"] + lost_batches == n // 100
    collector.start()
    out = json.loads(run_cli(AGENT, "replay", "--home", str(home), "--wait", str(events), env=env))
    assert out["spooled_events"] == 0, "lines already sealed must not be shipped again"
    stored = collector.stats("pc-dmg")["events"]
    assert stored == n - 100 * lost_batches
    # the next event the agent ships continues its own numbering, so the collector sees the loss too
    more = write_events(tmp_path / "more.jsonl", 1, start_line=n, with_ids=False)
    run_cli(AGENT, "replay", "--home", str(home), "--wait", str(more), env=env)
    gaps = collector.stats("pc-dmg")["gaps"]
    assert gaps.get("seq_gap", 0) >= 1 and gaps.get("batch_gap", 0) >= 1
    assert list((home).glob("spool.db.corrupt-*")), "the damaged file is kept aside for forensics"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: Path) -> None:
    with path.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0" * 512)
                fh.flush()
        except OSError:
            pass


def test_full_disk_keeps_the_agent_running_counts_losses_and_recovers(
        collector: CollectorProcess, tiny_disk: Path) -> None:
    home = tiny_disk / "agent"
    collector.enroll(home, "pc-full")
    env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_AGE_S": "0.1"}
    log_path = tiny_disk.parent / "agent.log"  # off the full disk
    log = log_path.open("wb")
    agent = subprocess.Popen([AGENT, "run", "--home", str(home), "--no-sensors", "--heartbeat-s", "0.05"], env=env,
                             stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(lambda: collector.stats("pc-full")["events"] > 5, 30, what="heartbeats before the disk fills")
        collector.stop()  # nothing can be acknowledged: the spool has to grow and hit the full disk
        filler = tiny_disk / f"filler-{uuid.uuid4().hex}"
        _fill(filler)
        wait_for(lambda: b"could not be kept" in log_path.read_bytes(), 30,
                 what="the spool to refuse events on the full disk")
        assert agent.poll() is None, "the agent must keep running on a full disk"
        filler.unlink()
        collector.start()

        def dropped_reported() -> bool:
            day_events = collector.stats("pc-full")["events"]
            if day_events == 0:
                return False
            import sqlite3

            conn = sqlite3.connect(collector.data / "seatguard.db")
            rows = conn.execute("SELECT data FROM events WHERE agent_id='pc-full' AND kind='agent.heartbeat'")
            beats = [json.loads(r[0])["dropped_total"] for r in rows]
            conn.close()
            return max(beats, default=0) > 0

        wait_for(dropped_reported, 60, interval=0.3, what="a heartbeat reporting the dropped events")
        assert agent.poll() is None
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
        log.close()
    status = json.loads(run_cli(AGENT, "status", "--home", str(home), "--json"))
    assert status["spool"]["lost_unstored_events"] > 0


_OPEN_AT = """
import sys, time
from pathlib import Path
from agent.errors import SpoolError
from agent.spool import Spool
path, at = Path(sys.argv[1]), float(sys.argv[2])
time.sleep(max(0.0, at - time.time()))
spool = Spool(path).open()
print(spool.stats()["depth_batches"])
spool.close()
"""


def test_processes_opening_a_new_spool_together_neither_fail_nor_salvage(tmp_path: Path) -> None:
    # `run` and `status` (or two runs a lock refuses) may open a brand-new spool in the same instant:
    # switching the new file to WAL then answers "database is locked" at once, which was taken for damage.
    import sys
    import time

    for round_ in range(12):
        path = tmp_path / f"r{round_}" / "spool.db"
        at = time.time() + 1.0
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AT, str(path), str(at)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err[-1500:]
            assert "damaged" not in err and "salvag" not in err and out.strip() == "0", err[-1500:]
        assert not list(path.parent.glob("*.corrupt-*"))


def test_a_spool_held_locked_is_reported_busy_not_salvaged(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "spool.db"
    spool = Spool(path).open()
    spool.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # in WAL mode, only this keeps readers out
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT OR REPLACE INTO meta VALUES ('held', '1')")
    try:
        with pytest.raises(SpoolError, match="busy"):
            Spool(path, busy_timeout_s=0.3).open()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(tmp_path.glob("*.corrupt-*"))  # nothing was moved aside to be salvaged
    Spool(path).open(salvage=False).close()  # and the file is intact


def test_salvage_counts_rows_damaged_in_any_column_as_lost(tmp_path: Path) -> None:
    # Damage may garble a row's state, size or body while the row still reads: such a row must be counted
    # lost, not recovered in a state nothing ships (depth + lost must add up to what was sealed).
    import sqlite3

    def seal(batch_seq: int, prev: str, events: list[object]) -> tuple[bytes, str]:
        return json.dumps({"batch_seq": batch_seq, "n": len(events)}).encode(), f"{batch_seq:064d}"

    path = tmp_path / "spool.db"
    spool = Spool(path).open()
    for _ in range(6):
        spool.append([{"k": 1}] * 2, seal)
    spool.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE batches SET state = ? WHERE batch_seq = 2", ("r\u00e9ad\u0000y",))
        conn.execute("UPDATE batches SET size = size + 1 WHERE batch_seq = 3")
        conn.execute("UPDATE batches SET body = X'FFFE7B7D', size = 4 WHERE batch_seq = 4")
        conn.execute("UPDATE batches SET body = ?, size = ? WHERE batch_seq = 5",
                     (b'{"batch_seq": 9}', len(b'{"batch_seq": 9}')))
    conn.close()
    hwm = json.loads((tmp_path / "spool.hwm").read_text())
    rows, lost = Spool._read_intact_rows(path, hwm)
    assert [r[0] for r in rows] == [1, 6] and lost == 4


def test_a_damaged_sidecar_is_read_as_empty_not_a_crash(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db").open()
    spool.append([{"k": 1}] * 3, fake_seal)
    spool.close()
    (tmp_path / "spool.hwm").write_bytes(b"{\"next_seq\": \xc3\x28")  # torn: not JSON, not even UTF-8
    again = Spool(tmp_path / "spool.db").open()
    res = again.append([{"k": 1}], fake_seal)
    assert (res.batch_seq, res.first_seq) == (2, 4)  # the database's own counters carry on
