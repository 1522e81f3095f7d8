"""Blobs per agent (issue 14 item 9): ids are unique per agent, and each agent has a daily quota and a rate.

Real collector processes, real agents' spools and uploaders: the blob over the quota is answered 429
``blob_quota``/``blob_rate`` with a signed refusal, counted in /metrics, parked by the agent (not retried for
ever), while another agent is unaffected. The schema revision is checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from agent.config import load_config
from agent.identity import load_identity
from agent.pipeline import BatchBuilder, open_spool
from agent.transport import HttpTransport
from agent.trust import Trust
from agent.uploader import Backoff, Uploader
from tests.conftest import CollectorProcess
from tests.test_screenshots import tiny_png

PNG_SIZE = len(tiny_png(b"shot-0"))


def _send(collector: CollectorProcess, home: Path, blob_ids: list[str]) -> dict[str, int]:
    """Spool these screenshots on the agent at ``home`` and drain its uploader; the spool's stats after."""
    config = load_config(home)
    identity = load_identity(home)
    spool = open_spool(home, config)
    try:
        builder = BatchBuilder(identity, spool, config)
        for n, blob_id in enumerate(blob_ids):
            builder.emit_blob(blob_id, tiny_png(f"shot-{n % 10}".encode()))
        uploader = Uploader(spool, HttpTransport(identity.collector_url), Trust(home, identity), Backoff(0.05, 0.2))
        done = threading.Event()
        timer = threading.Timer(60, done.set)  # a wedged uploader would retry until this fires
        timer.start()
        try:
            assert uploader.drain(done), "the uploader must not wedge on a refused blob"
        finally:
            timer.cancel()
        stats = spool.stats()
        return {"blobs": stats["blobs"], "parked_blobs": stats["parked_blobs"]}
    finally:
        spool.close()


def _metric(collector: CollectorProcess, outcome: str) -> float:
    body = requests.get(f"{collector.url}/metrics", timeout=10).text
    found = re.search(rf'^seatguard_blobs_total\{{outcome="{outcome}"\}} ([0-9.e+]+)$', body, re.M)
    return float(found.group(1)) if found else 0.0


def _stored(collector: CollectorProcess) -> list[tuple[str, str]]:
    db = sqlite3.connect(collector.data / "seatguard.db")
    try:
        return sorted(db.execute("SELECT agent_id, blob_id FROM screenshots").fetchall())
    finally:
        db.close()


@pytest.fixture
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path / "collector")
    toml = "".join(f"{k} = {v}\n" for k, v in request.param.items())
    (c.data / "collector.toml").write_text(toml, encoding="utf-8")
    c.start()
    yield c
    c.kill()


LIMITS = [
    pytest.param({"blob_quota_count_per_day": 3}, "blob_quota", id="count"),
    pytest.param({"blob_quota_bytes_per_day": 3 * PNG_SIZE + PNG_SIZE // 2}, "blob_quota", id="bytes"),
    pytest.param({"blob_rate_per_min": 3}, "blob_rate", id="rate"),
]


@pytest.mark.parametrize(("limited", "code"), LIMITS, indirect=["limited"])
def test_blobs_past_an_agents_limit_are_refused_counted_and_parked(limited: CollectorProcess, code: str,
                                                                   tmp_path: Path) -> None:
    one, two = tmp_path / "pc-q1", tmp_path / "pc-q2"
    limited.enroll(one, "pc-q1")
    limited.enroll(two, "pc-q2")
    # the same blob_id from two agents: two screenshots (unique per agent, not across agents)
    assert _send(limited, one, ["s1"]) == {"blobs": 0, "parked_blobs": 0}
    assert _send(limited, two, ["s1"]) == {"blobs": 0, "parked_blobs": 0}
    assert _stored(limited) == [("pc-q1", "s1"), ("pc-q2", "s1")]
    # pc-q1 fills its limit; the 4th and 5th are refused and parked, the uploader goes on
    assert _send(limited, one, ["s2", "s3", "s4", "s5"]) == {"blobs": 2, "parked_blobs": 2}
    assert _stored(limited) == [("pc-q1", "s1"), ("pc-q1", "s2"), ("pc-q1", "s3"), ("pc-q2", "s1")]
    assert _metric(limited, code) == 2.0 and _metric(limited, "stored") == 4.0
    log = (limited.data / "serve.out").read_text(encoding="utf-8", errors="replace")
    assert f"pc-q1: {code}" in log
    # the answer itself: 429 with the code and a signed refusal receipt for exactly that blob
    parked = _parked_blob(one)
    answer = requests.post(f"{limited.url}/api/v1/blobs", data=parked[1], timeout=10)
    assert answer.status_code == 429 and answer.json()["error"]["code"] == code
    receipt = answer.json()["error"]["receipt"]
    assert (receipt["outcome"], receipt["agent_id"], receipt["blob_id"]) == ("refused", "pc-q1", parked[0])
    # a resend of a stored blob is still a duplicate, not a refusal; pc-q2 has its own limit
    assert _send(limited, two, ["s1", "s2"]) == {"blobs": 0, "parked_blobs": 0}
    assert ("pc-q2", "s2") in _stored(limited)


def _parked_blob(home: Path) -> tuple[str, bytes]:
    db = sqlite3.connect(home / "spool.db")
    try:
        row = db.execute("SELECT blob_id, body FROM blobs WHERE state = 'parked' ORDER BY created LIMIT 1").fetchone()
    finally:
        db.close()
    return str(row[0]), bytes(row[1])
