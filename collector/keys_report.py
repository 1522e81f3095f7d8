"""What ``seatguard-collector keys list`` prints: key generations, the window, and which agents use which."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from collector.ingest import KEY_ACK_PREFIX
from collector.keys import KeyRing, hpke_file, iso, signing_file
from contract import wire
from contract.receipts import key_id


def keys_report(data_dir: Path) -> dict[str, Any]:
    """Every generation (ids, files, role now) and, per agent, the newest generation it was seen sealing to."""
    from collector.config import load_settings
    from collector.service import Collector

    ring = KeyRing(data_dir, float(load_settings(data_dir).max_clock_skew_s))
    now = time.time()
    signing_now = key_id(ring.signing_key(now).public_key())
    accepted = {key_id(k) for k in ring.accepted_signing(now).values()}
    seal = ring.seal_gen(now)
    gens = []
    for gen in sorted(ring.hpke):
        sign = ring.signing.get(gen)
        sign_id = key_id(sign.public_key()) if sign is not None else None
        gens.append({
            "generation": gen,
            "hpke_key": wire.public_key_b64(ring.hpke[gen].public_key()), "hpke_file": hpke_file(gen),
            "hpke": "sealed to" if gen == seal else "open-only",
            "signing_key_id": sign_id, "signing_file": signing_file(gen) if sign is not None else None,
            "signing": ("signs answers" if sign_id == signing_now else "accepted" if sign_id in accepted
                        else "retired" if sign is not None else "deleted"),
        })
    rot = ring.rotation
    out: dict[str, Any] = {"now": iso(now), "generations": gens,
                           "rotation": {**rot.as_dict(), "open": ring.in_window(now)} if rot is not None else None}
    if rot is None:
        return out
    collector = Collector.open(data_dir)
    try:
        agents = collector.store.list_agents()
        seen = {a["agent_id"]: collector.store.get_kv(KEY_ACK_PREFIX + str(a["agent_id"])) for a in agents}
    finally:
        collector.close()
    newest = str(ring.newest)
    out["agents"] = {"acknowledged": sorted(a for a, g in seen.items() if g == newest),
                     "not_yet": sorted(a for a, g in seen.items() if g != newest)}
    return out
