"""What an agent's heartbeats tell about the answers it got: forged answers, and policies not issued.

Heartbeats carry ``unsigned_answers`` (a counter kept across restarts of the answers whose receipt or
policy signature did not verify), and ``policy_version`` / ``policy_hash`` of the policy in force. At
ingest the collector turns them into integrity findings, which the rollups count and the rules
``forged_answers`` and ``policy_mismatch`` raise as findings and alerts:

* ``unsigned_answers``: the counter went up (someone answered in the collector's place);
* ``collector_changed``: the agent started with another collector URL or HPKE key than before (an edited
  enrollment record; recorded, no rule of its own);
* ``policy_mismatch``: a version the collector never issued, a hash that is not that version's, or an
  older version still in force ``policy_grace_s`` after a newer one was issued.

The check reads the heartbeats before masking: a hash is compared exactly as the agent sent it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.errors import InvalidEvent
from contract.schema import validate_event_at

Finding = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Beat:
    seq: int
    ts_s: float
    unsigned: int | None
    version: int | None
    hash: str | None
    changes: int | None = None


def heartbeats(raw_events: list[Any]) -> list[Beat]:
    """The batch's valid heartbeats, in sequence order (invalid ones are quarantined elsewhere)."""
    out = []
    for raw in raw_events:
        if not isinstance(raw, dict) or raw.get("kind") != "agent.heartbeat":
            continue
        try:
            event, moment = validate_event_at(raw)
        except InvalidEvent:
            continue
        out.append(Beat(int(event["seq"]), moment.timestamp(), event.get("unsigned_answers"),
                        event.get("policy_version"), event.get("policy_hash"), event.get("collector_changes")))
    return sorted(out, key=lambda b: b.seq)


def _rises(values: list[int | None], before: int | None) -> tuple[int, int | None]:
    """How much a counter kept by the agent went up over ``values``, and its last value."""
    rises = 0
    for value in values:
        if value is None:
            continue
        if before is not None and value > before:
            rises += value - before
        elif before is None and value > 0:
            rises += value  # first report: everything counted so far is news
        before = value
    return rises, before


def check(beats: list[Beat], last_unsigned: int | None, issued: dict[int, tuple[str, float]],
          grace_s: float, last_changes: int | None = None) -> list[Finding]:
    """Findings of one batch; ``last_unsigned`` and ``last_changes`` are the counters in the agent's previous
    stored heartbeat."""
    found: list[Finding] = []
    rises, total = _rises([b.unsigned for b in beats], last_unsigned)
    if rises:
        found.append(("unsigned_answers", {"count": rises, "total": total}))
    changes, total = _rises([b.changes for b in beats], last_changes)
    if changes:
        found.append(("collector_changed", {"count": changes, "total": total}))
    mismatch = _policy_mismatch(beats, issued, grace_s)
    if mismatch is not None:
        found.append(("policy_mismatch", mismatch))
    return found


def _policy_mismatch(beats: list[Beat], issued: dict[int, tuple[str, float]], grace_s: float) -> dict[str, Any] | None:
    newest = max(issued)
    for beat in beats:
        if beat.version is None or beat.hash is None:
            continue
        known = issued.get(beat.version)
        if beat.version > newest or (known is None and beat.version not in range(1, newest)):
            return {"why": "not_issued", "policy_version": beat.version, "seq": beat.seq}
        if known is not None and known[0] != beat.hash:
            return {"why": "not_issued", "policy_version": beat.version, "seq": beat.seq}
        if beat.version < newest and beat.ts_s > issued[newest][1] + grace_s:
            return {"why": "outdated", "policy_version": beat.version, "current_version": newest, "seq": beat.seq}
    return None
