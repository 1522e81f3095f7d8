"""Sequence and chain bookkeeping: what a batch tells about lost, deleted or altered data.

Pure functions over an agent's last known state; the store runs them inside the ingest
transaction so that concurrent batches of one agent never race.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AgentState:
    last_seq: int
    last_batch_seq: int
    last_batch_hash: str | None


@dataclass
class Findings:
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(self, kind: str, **detail: Any) -> None:
        self.records.append((kind, detail))


def check_batch(state: AgentState, batch_seq: int, prev_hash: str, prev_stored_hash: str | None,
                seqs: list[int]) -> Findings:
    """Compare a batch with what came before it.

    ``prev_stored_hash`` is the stored hash of batch ``batch_seq - 1`` (None if never received).
    """
    found = Findings()
    if batch_seq == 1:
        if prev_hash != GENESIS_HASH:
            found.add("chain_break", batch_seq=batch_seq, expected=GENESIS_HASH, got=prev_hash)
    elif prev_stored_hash is None:
        if batch_seq > state.last_batch_seq:
            found.add("batch_gap", missing_from=state.last_batch_seq + 1, missing_to=batch_seq - 1)
    elif prev_stored_hash != prev_hash:
        found.add("chain_break", batch_seq=batch_seq, expected=prev_stored_hash, got=prev_hash)
    expected = state.last_seq + 1
    for seq in sorted(seqs):
        if seq > expected:
            found.add("seq_gap", missing_from=expected, missing_to=seq - 1)
        expected = max(expected, seq + 1)
    return found
