"""What the policy's customer URL patterns cost on hostile URLs: per 64 KiB URL, per batch at the caps, and
on the ordinary URL.

    PYTHONPATH=$PWD .venv/bin/python bench/customer_match.py [--events N] [--length CHARS] [--skip-ingest]

Per URL: the worst patterns that ``contract.regex_safety`` accepts, each against the URL that makes Python's
backtracking engine work most (a run of the characters its first quantifier takes, no match), searched by
Python's engine in the windows of ``regex_safety.search`` (before) and by ``PolicyPattern.search`` (now: RE2
for an ASCII URL; Python's engine under the time budget for a URL with other characters). Per batch: one
sealed batch of ``max_batch_events`` page.open events of such URLs, as long as ``max_inflated_bytes`` lets
them be, posted to an in-process collector (SQLite) whose policy holds the pattern; the request time, the
write transaction (``Store.ingest``) and the unjudged count. Run it with ``PYTHONPATH`` set to another
checkout to measure that one (the per-URL "now" rows need ``contract.pattern_search``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contract.regex_safety import MAX_SEARCHED_CHARS, search, unsafe_construct  # noqa: E402

try:
    from contract import pattern_search  # noqa: E402
    from contract.regex_re2 import available  # noqa: E402
except ImportError:  # an older checkout
    pattern_search = None  # type: ignore[assignment]

    def available() -> bool:
        return False

# (pattern, the character its first quantifier takes: the crafted URL is a run of it)
WORST = [
    (r"\d+x", "1"),  # one quantifier, then a literal never there: a window's square
    (r"[^/]+/customers?/(\d+)", "a"),
    (r".*customer.*", "c"),
    (r"(?i)^(.*)/customer/.*$", "a"),  # anchored (migration 0010's glob): one search of 8 KiB
]
ORDINARY = [f"https://crm.internal/customers/{4400 + i}?tab=notes&from=search" for i in range(50)]


def _crafted(ch: str, n: int, rng: random.Random, other: str = "") -> str:
    """``n`` characters of ``ch``, one in 16 varied within the same class (so it compresses like text)."""
    alt = {"1": "0123456789", "a": "abcdefghijklmnop", "c": "cdefghijklmnop"}[ch]
    body = [rng.choice(alt) if i % 16 == 0 else ch for i in range(n)]
    if other:
        body[n // 2] = other  # one character outside ASCII
    return "https://crm.internal/" + "".join(body)[: n - 21]


def _time(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def per_url() -> None:
    rng = random.Random(7)
    print(f"per URL of {MAX_SEARCHED_CHARS} characters (best of 3), RE2 installed: {available()}")
    for pattern, ch in WORST:
        assert unsafe_construct(pattern) is None, pattern
        url = _crafted(ch, MAX_SEARCHED_CHARS, rng)
        rx = re.compile(pattern)
        before = _time(lambda: search(rx, url), 3)  # noqa: B023
        row = f"  {pattern:28s} before {before * 1e3:8.1f} ms"
        if pattern_search is not None:
            pp = pattern_search.PolicyPattern(pattern)
            now = _time(lambda: pp.search(url), 3)  # noqa: B023
            wide = _crafted(ch, MAX_SEARCHED_CHARS, rng, other="é")
            results: list[Any] = []
            slow = _time(lambda: results.append(pp.search(wide)), 3)  # noqa: B023
            row += (f"  now {now * 1e3:7.3f} ms (RE2: {pp.fast is not None})"
                    f"  non-ASCII URL {slow * 1e3:6.2f} ms ({results[-1]!r:.12s})")
        print(row)
    print("ordinary URLs (50, ~60 characters), per search:")
    for pattern in (r"/customers?/(\d+)", r"[?&]cid=(\d+)", r"(?i)^(.*)/customer/.*$"):
        rx = re.compile(pattern)
        n = 200
        before = _time(lambda: [search(rx, u) for _ in range(n) for u in ORDINARY], 3) / (n * len(ORDINARY))  # noqa: B023
        row = f"  {pattern:28s} before {before * 1e6:6.2f} µs"
        if pattern_search is not None:
            pp = pattern_search.PolicyPattern(pattern)
            now = _time(lambda: [pp.search(u) for _ in range(n) for u in ORDINARY], 3) / (n * len(ORDINARY))  # noqa: B023
            row += f"  now {now * 1e6:6.2f} µs"
        print(row)


def per_batch(events: int, length: int) -> None:
    from fastapi.testclient import TestClient

    from collector.api import create_app
    from simulator.testing.alerts import SealedAgent, open_collector

    rng = random.Random(9)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        collector = open_collector(Path(tmp) / "c")
        n = events or collector.settings.max_batch_events
        length = length or min(MAX_SEARCHED_CHARS, collector.settings.max_inflated_bytes // n - 300)
        client = TestClient(create_app(collector), base_url="http://t")
        held: list[float] = []
        real_ingest = collector.store.ingest

        def timed_ingest(write: Any, hook: Any = None) -> Any:
            started = time.perf_counter()
            try:
                return real_ingest(write, hook)
            finally:
                held.append(time.perf_counter() - started)

        collector.store.ingest = timed_ingest  # a benchmark's probe
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)  # n * 0.1 s later is still past
        rows = []
        warm = SealedAgent(collector, "bench-warm")  # imports, first policy, first rollup: not in the figures
        client.post("/api/v1/batches", content=warm.seal([warm.event("page.open", t0, app="chrome.exe",
                                                                     url=ORDINARY[0], title="x")]))
        shapes = [("", "1", ""), *((p, c, "") for p, c in WORST[:2]), ("", "a", "é"), (WORST[1][0], "a", "é")]
        for k, (pattern, ch, other) in enumerate(shapes):
            collector.policy.update({"customer_url_patterns": [pattern] if pattern else []})
            pc = SealedAgent(collector, f"bench-{k}")
            urls = [_crafted(ch, length, rng, other) for _ in range(min(n, 50))]
            batch = [pc.event("page.open", t0 + timedelta(milliseconds=100 * i), app="chrome.exe",
                              url=urls[i % len(urls)][:-6] + f"{i:06d}", title="x") for i in range(n)]
            body = pc.seal(batch)
            held.clear()
            unjudged = pattern_search.unjudged_count() if pattern_search is not None else 0
            started = time.perf_counter()
            answer = client.post("/api/v1/batches", content=body)
            total = time.perf_counter() - started
            unjudged = (pattern_search.unjudged_count() - unjudged) if pattern_search is not None else 0
            label = (pattern or "no customer pattern (the base)") + (" (non-ASCII)" if other else "")
            stored = answer.json().get("stored") if answer.status_code == 200 else 0
            rows.append((label, len(body), f"{answer.status_code}, {stored} stored", total, held[0] if held else 0.0,
                         unjudged))
        collector.close()
    print(f"per batch: {n} page.open events, URLs of {length} characters, SQLite, RE2 installed: {available()}")
    for label, size, status, total, lock, unjudged in rows:
        print(f"  {label:42s} body {size / 1e6:5.2f} MB  HTTP {status}  request {total:7.2f} s  "
              f"write lock {lock:7.2f} s  unjudged {unjudged}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=0, help="events per batch (default: max_batch_events)")
    parser.add_argument("--length", type=int, default=0,
                        help="URL length (default: as long as max_inflated_bytes lets every event's be)")
    parser.add_argument("--skip-ingest", action="store_true", help="only the per-URL figures")
    args = parser.parse_args()
    per_url()
    if not args.skip_ingest:
        per_batch(args.events, args.length)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
