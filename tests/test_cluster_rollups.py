"""Two real `serve` processes on one PostgreSQL fold one agent-day as one collector would (issue 16,
performance: each process keeps the rollups it wrote in memory, guarded by ``rollups.version``).

The same day of events is sent twice: by PC ``pc-split`` with its batches spread over collectors A and
B (one held back and sent last, to the other process than the batches around it, and batches re-sent
to the other process), and by PC ``pc-one`` through A alone. The two stored rollups must be the same
state and features (apart from the agent id), and every event stored exactly once. Had a process
folded into its kept copy after the other one wrote the day, the other's batches would be missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
import requests

from collector.customer_secret import SECRET_FILE
from collector.keys import KEY_FILE, SIGNING_KEY_FILE
from contract import wire
from contract.schema import format_ts
from tests.conftest import CollectorProcess
from tests.storage_fixtures import pg_schema
from tests.web_fixtures import TZ, workday

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Pair:
    url: str
    a: CollectorProcess
    b: CollectorProcess

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        schema = self.url.rsplit("%3D", 1)[1]
        with psycopg.connect(self.url.split("?")[0], options=f"-csearch_path={schema}") as conn:
            return list(conn.execute(query, args))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("pair")
    with pg_schema() as url:
        first = root / "collector-a"
        first.mkdir()
        (first / "collector.toml").write_text(f'db_url = "{url}"\n', encoding="utf-8")
        a = CollectorProcess(first)
        second = root / "collector-b"
        second.mkdir()
        for name in ("collector.toml", KEY_FILE, SIGNING_KEY_FILE, SECRET_FILE):  # one deployment
            shutil.copy2(first / name, second / name)
        b = CollectorProcess(second)
        try:
            a.start()
            b.start()
            yield Pair(url, a, b)
        finally:
            a.kill()
            b.kill()


class Pc:
    """An enrolled PC that seals its batches itself, so that a test can send each where it likes."""

    def __init__(self, pair: Pair, name: str) -> None:
        self.agent_id = name
        self.key = wire.new_agent_key()
        token = pair.a.token()
        answer = requests.post(pair.a.url + "/api/v1/enroll", json={
            "token": token, "public_key": wire.public_key_b64(self.key.public_key()), "name": name,
            "hostname": f"{name}-host", "user": f"user-{name}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        self.collector_key = wire.load_x25519_public(answer.json()["collector_key"])
        self.seq = self.batch_seq = 0
        self.prev = wire.GENESIS_HASH

    def seal(self, events: list[dict[str, Any]]) -> bytes:
        chunk = []
        for e in events:
            self.seq += 1
            chunk.append({"schema": 1, "agent_id": self.agent_id, "seq": self.seq, **e})
        self.batch_seq += 1
        body, self.prev = wire.seal_batch(agent_id=self.agent_id, batch_seq=self.batch_seq, prev_batch_hash=self.prev,
                                          events=chunk, sealed_at=format_ts(datetime.now(UTC)),
                                          collector_key=self.collector_key, agent_key=self.key)
        return body


def post(collector: CollectorProcess, body: bytes) -> dict[str, Any]:
    answer = requests.post(collector.url + "/api/v1/batches", data=body,
                           headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def rollup(pair: Pair, agent_id: str, day: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    rows = pair.sql("SELECT state, features, version FROM rollups WHERE agent_id = %s AND day = %s", agent_id, day)
    assert len(rows) == 1, rows
    state = orjson.loads(rows[0][0])
    assert state.pop("agent_id") == agent_id
    return state, orjson.loads(rows[0][1]), int(rows[0][2])


def test_one_agent_day_written_by_both_processes_is_the_rollup_one_process_makes(pair: Pair) -> None:
    day = (datetime.now(TZ).date() - timedelta(days=1))
    events = workday(day, risky="exfiltration")
    chunks = [events[i:i + 40] for i in range(0, len(events), 40)]
    assert len(chunks) >= 12
    # a late batch: the morning's third chunk is sent after everything else
    order = [*range(0, 3), *range(4, len(chunks)), 3]
    split, one = Pc(pair, "pc-split"), Pc(pair, "pc-one")
    sent_split = []
    for n, index in enumerate(order):
        # A, A, B, A, A, B, ...: consecutive batches on one process (its kept copy serves), then the other
        target = pair.b if n % 3 == 2 or index == 3 else pair.a
        body = split.seal(chunks[index])
        assert post(target, body)["status"] == "stored"
        sent_split.append((target, body))
        if n % 5 == 4:  # the agent missed the receipt and sends the batch again, to the other process
            other = pair.a if target is pair.b else pair.b
            again = post(other, body)
            assert (again["status"], again["stored"]) == ("duplicate", 0)
        assert post(pair.a, one.seal(chunks[index]))["status"] == "stored"
    last_target, last_body = sent_split[-1]
    assert last_target is pair.b  # the late batch landed on B after A wrote the day last
    state_split, features_split, version_split = rollup(pair, "pc-split", day.isoformat())
    state_one, features_one, _ = rollup(pair, "pc-one", day.isoformat())
    assert state_split == state_one
    assert features_split == features_one
    assert state_split["events"] == len(events) and features_split["customers_viewed"] > 0
    counts = dict(pair.sql("SELECT agent_id, count(*) FROM events GROUP BY agent_id"))
    assert counts == {"pc-split": len(events), "pc-one": len(events)}
    seqs = pair.sql("SELECT count(DISTINCT seq) FROM events WHERE agent_id = 'pc-split'")
    assert seqs == [(len(events),)]
    # a batch re-sent to the process that did not write it last changes nothing
    assert post(pair.a, last_body)["status"] == "duplicate"
    assert rollup(pair, "pc-split", day.isoformat())[2] == version_split


def test_a_write_by_the_other_process_is_never_overwritten_by_a_kept_copy(pair: Pair) -> None:
    """A writes the day (and keeps it), B adds to it, A adds again: A must fold into B's state."""
    day = date.today() - timedelta(days=2)
    pc = Pc(pair, "pc-turns")
    at = datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=10)
    copies = [{"ts": format_ts((at + timedelta(minutes=i)).astimezone(UTC)), "kind": "clipboard.copy",
               "app": "crm.exe", "title": "t", "trigger": "hotkey", "chars": 18,
               "classes": {"id_number": 1, "phone": 0, "bank_card": 0}, "action": "allowed"} for i in range(30)]
    for i, target in enumerate([pair.a, pair.a, pair.b, pair.a, pair.b, pair.b, pair.a]):
        assert post(target, pc.seal(copies[i * 4:(i + 1) * 4]))["stored"] == 4
    state, _features, _version = rollup(pair, "pc-turns", day.isoformat())
    assert state["events"] == 28 and state["copies"] == 28 and state["ids"] == 28
