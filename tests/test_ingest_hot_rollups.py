"""Rollups kept in memory between batches (collector.hot_rollups) fold exactly as states read back do.

One collector keeps the rollups it wrote (the default); the other keeps none, so every batch reads and
parses the stored state as ingest did before. Fed the same batches they must store the same states and
features, quarantine the same events with the same reasons, and raise the same alert candidates; a batch
whose transaction rolls back must leave nothing of itself in the kept copy.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.cli import main as collector_main
from collector.customer_secret import SECRET_FILE
from collector.errors import StorageError
from collector.hot_rollups import HotRollups
from collector.service import Collector
from collector.storage.sql import SqlStore
from detectors.rollup import DayRollup
from simulator.testing.alerts import SealedAgent, open_collector
from tests.web_fixtures import TZ, workday


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        kept = open_collector(tmp_path / "kept")
        (tmp_path / "plain").mkdir()
        shutil.copy2(tmp_path / "kept" / SECRET_FILE, tmp_path / "plain" / SECRET_FILE)  # same customer keys
        assert collector_main(["init", "--data", str(tmp_path / "plain")]) == 0
        plain = Collector.open(tmp_path / "plain")
    plain.rollups.hot = HotRollups(max_days=0)  # nothing kept: the state is read back for every batch
    yield kept, plain
    kept.close()
    plain.close()


def stored(collector: Any, agent_id: str, day: str) -> tuple[dict[str, Any], dict[str, Any]]:
    store: SqlStore = collector.store
    state = store.rollup_state(agent_id, day)
    assert state is not None
    features = store.feature_history(day, day)[agent_id][0]
    assert state.pop("agent_id") == agent_id
    return state, features


def batches(day_events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [day_events[i:i + size] for i in range(0, len(day_events), size)]


def send(collector: Any, pc: SealedAgent, chunk: list[dict[str, Any]]) -> Any:
    events = [pc.event(e["kind"], datetime.fromisoformat(e["ts"]),
                       **{k: v for k, v in e.items() if k not in ("kind", "ts")}) for e in chunk]
    return collector.ingest.handle(pc.seal(events))


def test_a_day_folded_into_the_kept_copy_is_the_day_folded_from_stored_states(pair: tuple[Any, Any]) -> None:
    kept, plain = pair
    day = datetime.now(TZ).date() - timedelta(days=1)
    events = workday(day, risky="exfiltration")
    a, b = SealedAgent(kept, "pc-1"), SealedAgent(plain, "pc-1")
    for chunk in batches(events, 37):
        assert send(kept, a, chunk).stored == send(plain, b, chunk).stored == len(chunk)
        assert stored(kept, "pc-1", day.isoformat()) == stored(plain, "pc-1", day.isoformat())
    assert kept.rollups.hot.hits >= len(events) // 37 - 1 and kept.rollups.hot.misses == 1
    assert plain.rollups.hot.hits == 0
    state, features = stored(kept, "pc-1", day.isoformat())
    assert state["events"] == len(events) and features["copied_ids"] > 0
    # the alert evaluator judges the kept copy as it judged the state read back
    seqs = list(range(1, len(events) + 1))
    assert kept.alerts.evaluator.evaluate("pc-1", day.isoformat(), seqs) == \
        plain.alerts.evaluator.evaluate("pc-1", day.isoformat(), seqs)
    assert kept.alerts.evaluator.evaluate("pc-1", day.isoformat(), seqs)


def test_to_json_is_the_state_as_stored_before(pair: tuple[Any, Any]) -> None:
    kept, _plain = pair
    day = datetime.now(TZ).date() - timedelta(days=1)
    rollup = DayRollup.new(kept.rollups.context("pc-9"), day)
    for e in workday(day, risky="offlist"):
        rollup.add({"schema": 1, "agent_id": "pc-9", "seq": 1, **e})
    assert rollup.to_json() == orjson.dumps(rollup.to_state())


def test_an_event_the_rollup_refuses_is_quarantined_alike(pair: tuple[Any, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    kept, plain = pair
    day = datetime.now(TZ).date() - timedelta(days=1)
    chunks = batches(workday(day), 50)
    a, b = SealedAgent(kept, "pc-2"), SealedAgent(plain, "pc-2")
    for chunk in chunks[:3]:
        send(kept, a, chunk)
        send(plain, b, chunk)
    real_add = DayRollup.add

    def picky(self: DayRollup, event: dict[str, Any], customer: Any = None, at: float | None = None) -> None:
        if event["seq"] == 160:
            raise ValueError("this one")
        real_add(self, event, customer, at)

    monkeypatch.setattr(DayRollup, "add", picky)
    results = [send(kept, a, chunks[3]), send(plain, b, chunks[3])]
    monkeypatch.undo()
    assert [(r.stored, r.quarantined) for r in results] == [(49, 1), (49, 1)]
    reasons = [[q["reason"] for q in c.store.quarantined("pc-2")] for c in (kept, plain)]
    assert reasons[0] == reasons[1] == ["rollup failed: ValueError: this one"]
    for chunk in chunks[4:6]:
        send(kept, a, chunk)
        send(plain, b, chunk)
    assert stored(kept, "pc-2", day.isoformat()) == stored(plain, "pc-2", day.isoformat())


def test_a_rolled_back_batch_leaves_nothing_in_the_kept_copy(pair: tuple[Any, Any]) -> None:
    kept, plain = pair
    day = datetime.now(TZ).date() - timedelta(days=1)
    chunks = batches(workday(day), 60)
    a, b = SealedAgent(kept, "pc-3"), SealedAgent(plain, "pc-3")
    for chunk in chunks[:2]:
        send(kept, a, chunk)
        send(plain, b, chunk)
    hook = kept.ingest.rollup_hook

    def fold_then_fail(*args: Any) -> Any:
        hook(*args)  # folds into the kept copy, then the transaction fails
        raise StorageError("disk full")

    kept.ingest.rollup_hook = fold_then_fail
    body = a.seal([a.event(e["kind"], datetime.fromisoformat(e["ts"]),
                           **{k: v for k, v in e.items() if k not in ("kind", "ts")}) for e in chunks[2]])
    with pytest.raises(StorageError):
        kept.ingest.handle(body)
    kept.ingest.rollup_hook = hook
    assert kept.ingest.handle(body).stored == len(chunks[2])  # the agent sends it again
    send(plain, b, chunks[2])
    for chunk in chunks[3:5]:
        send(kept, a, chunk)
        send(plain, b, chunk)
    assert stored(kept, "pc-3", day.isoformat()) == stored(plain, "pc-3", day.isoformat())
    assert stored(kept, "pc-3", day.isoformat())[0]["events"] == sum(len(c) for c in chunks[:5])


def test_a_state_written_behind_the_process_is_read_again(pair: tuple[Any, Any]) -> None:
    """Another writer (another process) changed the row: its version moved, the kept copy is dropped."""
    kept, _plain = pair
    day = datetime.now(TZ).date() - timedelta(days=1)
    chunks = batches(workday(day), 60)
    pc = SealedAgent(kept, "pc-4")
    send(kept, pc, chunks[0])
    state = kept.store.rollup_state("pc-4", day.isoformat())
    state["ids"] = 1234  # what a batch folded by another process would leave
    with kept.store._write() as conn:
        from collector.storage.sql import SqlRollupAccess

        SqlRollupAccess(conn, datetime.now(UTC).timestamp()).save("pc-4", day.isoformat(), state, existed=True)
    misses = kept.rollups.hot.misses
    send(kept, pc, chunks[1])
    assert kept.rollups.hot.misses == misses + 1
    assert kept.store.rollup_state("pc-4", day.isoformat())["ids"] >= 1234


def test_a_policy_saved_mid_day_folds_the_rest_of_the_day_as_states_read_back(pair: tuple[Any, Any]) -> None:
    """The kept copy was made with the old policy's context: after the save it is not folded into (the
    day is read back with the new context, as ingest did before), so both collectors store the same."""
    kept, plain = pair
    day = datetime.now(TZ).date() - timedelta(days=1)
    chunks = batches(workday(day, risky="exfiltration"), 45)
    a, b = SealedAgent(kept, "pc-5"), SealedAgent(plain, "pc-5")
    half = len(chunks) // 2
    for chunk in chunks[:half]:
        send(kept, a, chunk)
        send(plain, b, chunk)
    hits = kept.rollups.hot.hits
    assert hits >= half - 2
    changes = {"customer_url_patterns": [r"/customers?/(\d+)", r"/account/(\w+)"], "allowed_apps": ["crm", "chrome"],
               "messaging_apps": ["wechat*", "qq"], "paste_window_s": 90}
    for collector in (kept, plain):
        collector.policy.update(changes, saved_by="admin")
    for chunk in chunks[half:]:
        send(kept, a, chunk)
        send(plain, b, chunk)
        assert stored(kept, "pc-5", day.isoformat()) == stored(plain, "pc-5", day.isoformat())
    assert kept.rollups.context("pc-5").policy.paste_window_s == 90
    assert kept.rollups.hot.hits > hits  # folded into the kept copy again once it was made with the new policy
