"""``seatguard-agent replay``: ship recorded v1 events through the same spool and uploader.

Each line keeps its kind, ts and fields; agent_id is the enrolled one and seq continues the agent's
own counter. The number of lines consumed is committed with every sealed batch, so a rerun after a
crash continues exactly where the last committed batch ended: nothing is shipped twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from agent.errors import ConfigError
from agent.identity import Identity
from agent.pipeline import make_sealer
from agent.spool import Spool
from contract.envelope import KINDS, SCHEMA_VERSION

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    lines_total: int = 0
    already_shipped: int = 0
    spooled_events: int = 0
    batches: int = 0
    invalid_events: int = 0


def replay_key(path: Path) -> str:
    return "replay:" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]


def _read_lines(path: Path, skip: int) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number <= skip:
                continue
            yield number, raw


def _restamp(raw: bytes, agent_id: str) -> tuple[Any, bool]:
    """The event to ship for one line, and whether it looks like a v1 event (a cheap local check;
    the collector validates every event and quarantines the rest with the reason)."""
    line = raw.rstrip(b"\r\n")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.decode("utf-8", "replace"), False
    if not isinstance(obj, dict):
        return obj, False
    obj["agent_id"] = agent_id
    obj.pop("seq", None)  # the spool numbers events from the agent's own counter when it seals them
    ok = obj.get("schema") == SCHEMA_VERSION and obj.get("kind") in KINDS and isinstance(obj.get("ts"), str)
    return obj, ok


def replay_file(identity: Identity, spool: Spool, path: Path, batch_size: int = 500,
                stop: threading.Event | None = None, on_sealed: threading.Event | None = None) -> ReplayResult:
    if not path.is_file():
        raise ConfigError(f"replay file not found: {path}")
    key = replay_key(path)
    done = int(spool.get_meta(key) or 0)
    seal = make_sealer(identity)
    result = ReplayResult(already_shipped=done, lines_total=done)
    pending: list[Any] = []
    last_line = done

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        spool.append(pending, seal, {key: str(last_line)}, count_lost=False)
        result.spooled_events += len(pending)
        result.batches += 1
        pending = []
        if on_sealed is not None:
            on_sealed.set()

    for number, raw in _read_lines(path, done):
        result.lines_total = number
        if not raw.strip():
            last_line = number
            continue
        event, ok = _restamp(raw, identity.agent_id)
        result.invalid_events += 0 if ok else 1
        pending.append(event)
        last_line = number
        if len(pending) >= batch_size:
            flush()
            if stop is not None and stop.is_set():
                return result
    if pending:
        flush()
    elif last_line > done:
        spool.set_meta(key, str(last_line))
    if result.invalid_events:
        log.warning("%d of the replayed events do not follow schema v1; the collector will quarantine them",
                    result.invalid_events)
    return result

