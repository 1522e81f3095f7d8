"""The spine end to end: real collector process on loopback, real agent processes, real SQLite."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import (
    AGENT,
    COLLECTOR,
    FAST_AGENT_ENV,
    CollectorProcess,
    run_cli,
    stored_markers,
    wait_for,
    write_events,
)


def _assert_exactly_once(collector: CollectorProcess, agent_id: str, n: int) -> None:
    markers = stored_markers(collector.data, agent_id)
    assert len(markers) == n, f"stored {len(markers)} events, expected {n}"
    assert sorted(markers) == list(range(n)), "some line is missing or stored twice"
    conn = sqlite3.connect(collector.data / "seatguard.db")
    seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE agent_id=? ORDER BY seq", (agent_id,))]
    conn.close()
    assert len(seqs) == len(set(seqs))


@pytest.mark.slow
def test_replay_of_100k_events_stores_exactly_100k(collector: CollectorProcess, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-100k")
    events = write_events(tmp_path / "100k.jsonl", 100_000)
    out = json.loads(run_cli(AGENT, "replay", "--home", str(home), "--wait", str(events)))
    assert out["spooled_events"] == 100_000 and out["spool_depth_events"] == 0
    assert collector.stats("pc-100k")["events"] == 100_000
    _assert_exactly_once(collector, "pc-100k", 100_000)
    # a rerun of the same file ships nothing twice
    again = json.loads(run_cli(AGENT, "replay", "--home", str(home), "--wait", str(events)))
    assert again["spooled_events"] == 0 and again["already_shipped"] == 100_000
    assert collector.stats("pc-100k")["events"] == 100_000


@pytest.mark.slow
def test_agent_killed_20_times_during_upload_loses_and_doubles_nothing(
        collector: CollectorProcess, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-kill")
    n = 150_000  # enough that 20 kills at random moments all land before the replay is done (ingest is fast)
    events = write_events(tmp_path / "k.jsonl", n)
    env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": "200"}
    rng = random.Random(20261124)
    kills = 0
    while kills < 20:
        proc = subprocess.Popen([AGENT, "replay", "--home", str(home), "--wait", str(events)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.1, 0.6))  # the random moment of the kill, not a wait for a condition
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(30)
        if proc.returncode == 0:
            break
    final = json.loads(run_cli(AGENT, "replay", "--home", str(home), "--wait", str(events), env=FAST_AGENT_ENV))
    assert final["spool_depth_events"] == 0
    assert kills == 20, f"the replay finished after {kills} kills: too fast for the test to mean anything"
    _assert_exactly_once(collector, "pc-kill", n)
    assert collector.stats("pc-kill")["gaps"] == {}


@pytest.mark.slow
def test_collector_down_then_up_drains_the_backlog(collector: CollectorProcess, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-live")
    env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_AGE_S": "0.2"}
    agent = subprocess.Popen([AGENT, "run", "--home", str(home), "--no-sensors", "--heartbeat-s", "0.05"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: collector.stats("pc-live")["events"] > 10, 30, what="first heartbeats")
        collector.stop()

        def depth() -> int:
            status = json.loads(run_cli(AGENT, "status", "--home", str(home), "--json"))
            return int(status["spool"]["depth_events"])

        wait_for(lambda: depth() > 60, 60, interval=0.3, what="a backlog in the spool")
        collector.start()
        wait_for(lambda: depth() == 0, 60, interval=0.3, what="the backlog to drain")
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    status = json.loads(run_cli(AGENT, "status", "--home", str(home), "--json"))
    assert status["spool"]["depth_events"] == 0
    stats = collector.stats("pc-live")
    produced = status["spool"]["next_seq"] - 1
    assert stats["events"] == produced, "every event the agent produced reached the collector exactly once"
    assert stats["gaps"] == {}
    conn = sqlite3.connect(collector.data / "seatguard.db")
    kinds = [r[0] for r in conn.execute("SELECT kind FROM events WHERE agent_id='pc-live' ORDER BY seq")]
    conn.close()
    assert kinds[0] == "agent.start" and kinds[-1] == "agent.stop"


@pytest.mark.slow
def test_collector_killed_mid_ingest_keeps_every_acknowledged_batch(
        collector: CollectorProcess, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-ck")
    n = 60_000
    events = write_events(tmp_path / "ck.jsonl", n)
    env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_EVENTS": "250"}
    agent = subprocess.Popen([AGENT, "replay", "--home", str(home), "--wait", str(events)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(3):
        wait_for(lambda: _count(collector) > 0 and agent.poll() is None, 60, interval=0.02, what="ingest under way")
        before = _count(collector)
        wait_for(lambda b=before: _count(collector) > b, 30, interval=0.01, what="more ingest")  # type: ignore[misc]
        collector.kill()
        collector.start()
    agent.wait(300)
    assert agent.returncode == 0
    _assert_exactly_once(collector, "pc-ck", n)


def _count(collector: CollectorProcess) -> int:
    try:
        conn = sqlite3.connect(f"file:{collector.data / 'seatguard.db'}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_revoked_agent_batches_are_parked_with_the_reason(collector: CollectorProcess, tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-rev")
    run_cli(COLLECTOR, "revoke",
            "--data", str(collector.data), "--agent", "pc-rev")
    events = write_events(tmp_path / "r.jsonl", 50)
    proc = subprocess.run([AGENT, "replay", "--home", str(home), "--wait", str(events)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    status = json.loads(run_cli(AGENT, "status", "--home", str(home), "--json"))
    assert status["spool"]["parked_batches"] == 1
    assert "revoked_agent" in status["spool"]["parked"][0]["reason"]
    text = run_cli(AGENT, "status", "--home", str(home))
    assert "revoked" in text and "parked" in text and "never records which keys" in text
    assert collector.stats("pc-rev")["events"] == 0
    assert collector.stats()["rejections"]["revoked_agent"] >= 1


def test_enrollment_tokens_are_one_time_and_names_unique(collector: CollectorProcess, tmp_path: Path) -> None:
    token = collector.token()
    run_cli(AGENT, "enroll", "--home", str(tmp_path / "a"), "--collector", collector.url, "--token", token,
            "--name", "pc-x")
    again = subprocess.run([AGENT, "enroll", "--home", str(tmp_path / "b"), "--collector", collector.url, "--token",
                            token, "--name", "pc-y"], capture_output=True, text=True)
    assert again.returncode == 2 and "already used" in again.stderr
    taken = subprocess.run([AGENT, "enroll", "--home", str(tmp_path / "c"), "--collector", collector.url, "--token",
                            collector.token(), "--name", "pc-x"], capture_output=True, text=True)
    assert taken.returncode == 2 and "already in use" in taken.stderr
