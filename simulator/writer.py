"""Numbering, validating and writing the simulator's output files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.schema import SCHEMA_VERSION, validate_event
from simulator.clock import format_ts
from simulator.desktop import Record

EVENTS_DIR = "events"
FLEET_FILE = "fleet.json"
TRUTH_FILE = "ground_truth.json"
RAW_FILE = "raw_identifiers.txt"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # == json.dumps(..., same options)


@dataclass
class WriteStats:
    events: int = 0
    lost: int = 0
    raw: set[str] = field(default_factory=set)


def prepare(out_dir: Path) -> Path:
    """Create ``out_dir/events``; clear event files left there by an earlier simulation."""
    events = out_dir / EVENTS_DIR
    events.mkdir(parents=True, exist_ok=True)
    stale = sorted(events.glob("*.jsonl"))
    if stale and not (out_dir / FLEET_FILE).exists():
        raise ValueError(f"{events} holds .jsonl files but {out_dir} is not a simulator output folder")
    for path in stale:
        path.unlink()
    return events


def write_events(path: Path, agent_id: str, records: list[Record], stats: WriteStats) -> None:
    """Number ``records`` 1..N (lost ones keep their number), validate each and write JSON Lines."""
    lines = []
    last = records[0].t if records else 0
    for seq, record in enumerate(records, start=1):
        if record.t < last:
            raise RuntimeError(f"{agent_id}: events out of time order at seq {seq}")
        last = record.t
        if record.lost:
            stats.lost += 1
            continue
        event: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "agent_id": agent_id,
            "seq": seq,
            "ts": format_ts(record.t),
            "kind": record.kind,
            **record.fields,
        }
        line = _ENCODER.encode(validate_event(event))
        lines.append(line)
        stats.raw.update(raw for raw in record.raw if raw in line)
    stats.events += len(lines)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8", newline="\n")


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8", newline="\n")


def write_raw(path: Path, raw: set[str]) -> None:
    path.write_text("".join(f"{item}\n" for item in sorted(raw)), encoding="utf-8", newline="\n")
