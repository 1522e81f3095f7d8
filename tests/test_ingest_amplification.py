"""The amplification shapes against a real collector process: bounded work and memory, never a 5xx.

One enrolled PC (its own key, the agent's own wire code) sends each shape a hostile insider could
build: a zip bomb, a batch of 100,000 events, deep nesting, huge strings near the byte cap, a flood of
quarantined events, a body over the size limit. After each the next normal batch must be stored; the
collector's resident memory must stay bounded; and no raw test number may appear in any byte of the
data folder, the log or the API answers.
"""

from __future__ import annotations

import random
import string
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest
import requests

from tests.conftest import COLLECTOR, RAW_IDS, CollectorProcess, run_cli
from tests.insider import Insider

# The caps allow 64 MB of JSON and 100,000 objects and arrays per batch: a collector that parses one
# such batch peaks near 250 MB; small objects at the byte cap would take it past 1.3 GB unrefused.
RSS_LIMIT = 400 * 1024 * 1024
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorProcess, Insider, psutil.Process]]:
    collector = CollectorProcess(tmp_path_factory.mktemp("amplify") / "collector")
    collector.start()
    assert collector.proc is not None
    try:
        yield collector, Insider(collector), psutil.Process(collector.proc.pid)
    finally:
        collector.stop()


def peak_rss(proc: psutil.Process) -> int:
    """The process's peak resident memory so far (Linux VmHWM), else its current resident memory."""
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(proc.memory_info().rss)


def _normal_batch_is_stored(insider: Insider, collector: CollectorProcess) -> None:
    before = collector.stats(insider.agent_id)["events"]
    answer = insider.post(insider.seal([insider.event() for _ in range(3)]))
    assert answer.status_code == 200 and answer.json()["stored"] == 3, answer.text
    assert collector.stats(insider.agent_id)["events"] == before + 3


def _semi_random_text(n: int, rng: random.Random) -> str:
    """Text that compresses about 10:1 (below the inflate-ratio cap), with raw numbers inside."""
    words = ["".join(rng.choices(string.ascii_letters, k=8)) for _ in range(64)] + RAW_IDS
    out: list[str] = []
    size = 0
    while size < n:
        w = rng.choice(words)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def _shapes() -> dict[str, tuple[Any, tuple[int, ...], str | None]]:
    """name -> (events builder, acceptable statuses, refusal code if refused)."""
    rng = random.Random(14)
    return {
        "zip bomb": (lambda i: [i.event(title="0" * 60_000_000)], (413,), "inflate_ratio"),
        "100k events": (lambda i: [i.event() for _ in range(100_000)], (413,), "too_many_values"),
        "20,001 events": (lambda i: [{"k": n} for n in range(20_001)], (413,), "too_many_events"),
        # 30 MB of JSON that compresses 9:1 (within the ratio cap) and would parse into 3.5 million dicts
        "small objects": (lambda i: [{"a": rng.randrange(30)} for _ in range(3_500_000)], (413,), "too_many_values"),
        "deep nesting within the parser's depth": (
            lambda i: [i.event(title=_nest(900)), i.event()], (200,), None),
        "deep nesting beyond the parser's depth": (lambda i: [i.event(title=_nest(5000))], (400,), "malformed"),
        "huge strings": (lambda i: [i.event(title=_semi_random_text(30_000, rng)) for _ in range(1000)], (200,), None),
        "quarantine flood": (lambda i: [i.event("no.such", note=RAW_IDS[3]) for _ in range(20_000)], (200,), None),
        "many keys": (lambda i: [i.event("no.such", **{f"k{RAW_IDS[2]}x{n}": n for n in range(50_000)})],
                      (200,), None),
    }


def _nest(depth: int) -> Any:
    value: Any = RAW_IDS[1]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("shape", list(_shapes()))
def test_amplification_shape_is_bounded_and_never_wedges(
        served: tuple[CollectorProcess, Insider, psutil.Process], shape: str) -> None:
    collector, insider, proc = served
    build, statuses, code = _shapes()[shape]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # the stdlib encoder the agent seals with recurses per nesting level
    try:
        body = insider.seal(build(insider))
    finally:
        sys.setrecursionlimit(limit)
    answer = insider.post(body)
    assert answer.status_code < 500, answer.text[:500]
    assert answer.status_code in statuses, answer.text[:500]
    if code is not None:
        assert answer.json()["error"]["code"] == code
    peak = peak_rss(proc)
    print(f"{shape}: HTTP {answer.status_code}, body {len(body) / 1e6:.2f} MB, peak RSS {peak / 2**20:.0f} MB")
    assert peak < RSS_LIMIT, f"collector peak RSS {peak / 2**20:.0f} MB"
    _normal_batch_is_stored(insider, collector)


def test_a_body_over_the_limit_is_refused_before_it_is_read(
        served: tuple[CollectorProcess, Insider, psutil.Process]) -> None:
    collector, insider, proc = served

    def endless() -> Iterator[bytes]:  # no Content-Length: the collector must stop reading by itself
        chunk = b" " * 65536
        for _ in range(4096):  # 256 MB offered
            yield chunk

    try:
        answer = requests.post(insider.url + "/api/v1/batches", data=endless(), timeout=120,
                               headers={"content-type": "application/json"})
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    except requests.ConnectionError:
        pass  # the collector answered and closed while the client was still sending: refused all the same
    assert peak_rss(proc) < RSS_LIMIT
    _normal_batch_is_stored(insider, collector)


def test_zz_no_raw_number_in_the_data_folder_log_or_answers(
        served: tuple[CollectorProcess, Insider, psutil.Process]) -> None:
    collector, insider, _ = served
    run_cli(COLLECTOR, "user", "add", "--data", str(collector.data), "--name", "sec-amp", "--role", "security")
    token = run_cli(COLLECTOR, "token", "create", "--data", str(collector.data), "--user", "sec-amp").strip()
    bearer = {"Authorization": f"Bearer {token}"}
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    for route in ("/api/v1/agents", f"/api/v1/agents/{insider.agent_id}/timeline?date={day}", "/api/v1/alerts",
                  f"/api/v1/reports/{day}", "/metrics"):
        answer = requests.get(insider.url + route, headers=bearer, timeout=60)
        assert answer.status_code < 500, (route, answer.text[:300])
        insider.answers.append(answer.text)
    assert "pc-ins" in insider.answers[-5]
    needles = [n for raw in RAW_IDS for n in (raw.encode(), raw.translate(_FULLWIDTH).encode(),
                                               raw.encode("utf-16-le"))]
    hits = []
    for path in collector.data.rglob("*"):
        if path.is_file() and path.suffix != ".pem":
            blob = path.read_bytes()
            hits += [f"{path.name}: {n[:4]!r}" for n in needles if n in blob]
    for text in insider.answers:
        hits += [f"answer: {raw[:4]}" for raw in RAW_IDS if raw in text]
    assert not hits, hits
    stats = collector.stats(insider.agent_id)
    assert stats["quarantined"] > 0 and stats["events"] > 0
