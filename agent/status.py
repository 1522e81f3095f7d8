"""``seatguard-agent status``: what this agent records, its spool and its last upload.

Privacy rule 3: the agent is visible to the person at the PC; this is the command that shows it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.identity import Identity, load_identity
from agent.locking import try_lock, unlock
from agent.pipeline import open_spool
from agent.runner import LOCK_FILE, RUN_STATUS_FILE
from contract.errors import ReceiptError
from contract.notice import NOTICE


def _running_pid(home: Path) -> int | None:
    path = home / LOCK_FILE
    if not path.exists():
        return None
    with path.open("r+") as fh:
        if try_lock(fh.fileno()):
            unlock(fh.fileno())
            return None
        text = fh.read().strip()
        return int(text) if text.isdigit() else -1


def collect_status(home: Path, config: AgentConfig) -> dict[str, Any]:
    identity = load_identity(home)
    running = _running_pid(home)
    spool = open_spool(home, config, salvage=running is None)  # never pull a file from under the agent
    try:
        stats = spool.stats()
    finally:
        spool.close()
    run_status: dict[str, Any] = {}
    if (home / RUN_STATUS_FILE).exists():
        try:
            run_status = json.loads((home / RUN_STATUS_FILE).read_bytes())
        except ValueError:  # not JSON, or not UTF-8: a torn or damaged status file
            run_status = {}
    return {
        "agent_id": identity.agent_id,
        "team": identity.team,
        "collector": identity.collector_url,
        "running_pid": running,
        "spool": stats,
        "sensors": run_status.get("sensors", {}),
        "policy_version": (identity.signed_policy or {}).get("version", identity.policy.get("version")),
        "signing_keys": sorted(identity.signing_keys),
        "trusted_keys": _trusted(identity),
        "notice": NOTICE,
    }


def _trusted(identity: Identity) -> list[str]:
    """The collector signing keys this agent trusts now, each with its retire time after a key rotation."""
    from agent.trust import Trust

    try:
        return Trust(None, identity).describe()
    except ReceiptError as exc:
        return [f"unreadable: {exc}"]


def format_status(status: dict[str, Any]) -> str:
    spool = status["spool"]
    lines = [
        NOTICE,
        "",
        f"agent id        {status['agent_id']} (team {status['team'] or '-'})",
        f"collector       {status['collector']}",
        f"running         {'yes, pid ' + str(status['running_pid']) if status['running_pid'] else 'no'}",
        f"spool           {spool['depth_events']} events in {spool['depth_batches']} sealed batches"
        f" ({spool['bytes']} of {spool['max_bytes']} bytes)",
        f"dropped         {spool['dropped_total']} events ({spool['dropped_batches']} batches dropped when"
        f" full, {spool['lost_unstored_events']} not kept: disk full)",
        f"lost to damage  {spool['lost_corrupt_batches']} batches",
        f"last upload     {spool['last_upload_at'] or 'never'} — {spool['last_upload_status'] or '-'}",
        f"parked          {spool['parked_batches']} batches refused by the collector",
        f"unsigned        {spool['unsigned_answers']} answers without a valid collector receipt or signature"
        " (not trusted: the batches stay and are sent again)",
        f"policy          version {status['policy_version'] if status['policy_version'] is not None else '-'}",
        f"collector keys  {', '.join(status['trusted_keys']) or 'not yet fetched'} (trusted signing keys)",
    ]
    for item in spool["parked"]:
        lines.append(f"  batch {item['batch_seq']} ({item['events']} events): {item['reason']}")
    for name, info in sorted(status["sensors"].items()):
        avail = info.get("available", True) if isinstance(info, dict) else True
        why = info.get("why", "") if isinstance(info, dict) else ""
        lines.append(f"sensor {name:<10} {'on' if avail else 'UNAVAILABLE'} {why}")
    return "\n".join(lines)
