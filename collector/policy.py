"""The policy agents follow; it lives on the collector and reaches agents with every batch answer."""

from __future__ import annotations

import time
from typing import Any

import orjson

from agent.signed_policy import policy_hash
from collector.storage import Store

# What a new collector hands out. Keys whose meaning the agent's sensors (globs) and the detectors
# (name prefixes, regexes) read differently are left to each side's own defaults; an admin can still
# set them (see ``known_policy_keys``), and both sides validate what they read.
DEFAULT_POLICY: dict[str, Any] = {
    "version": 1,
    "case_id_patterns": [r"\b(C-\d{4}-\d{7})\b"],
    "idle_threshold_s": 300,
    "case_absence_s": 600,
    "screenshot_triggers": ["remote_access_process", "screen_capture_process", "messaging_after_sensitive_copy"],
    "clear_sensitive_copies": False,
    "watched_folders": ["~/Downloads", "~/Desktop", "~/Documents"],
}


def known_policy_keys() -> set[str]:
    from dataclasses import fields

    from agent.sensors.policy import AgentPolicy
    from detectors.rollup import Policy

    return {f.name for f in fields(AgentPolicy) if not f.name.startswith("_")} | {
        f.name for f in fields(Policy)} | {"process_categories"}


def policy_problem(policy: dict[str, Any]) -> str | None:
    """Why the agents' sensors or the detectors would refuse this policy (None when both accept it)."""
    from agent.sensors.errors import PolicyError
    from agent.sensors.policy import AgentPolicy
    from detectors.errors import DetectorError
    from detectors.rollup import Policy

    try:
        AgentPolicy.from_dict(policy)
    except PolicyError as exc:
        return f"the agents would refuse it: {exc}"
    try:
        Policy.from_dict(policy)
    except DetectorError as exc:
        return f"the detectors would refuse it: {exc}"
    return None


class PolicyService:
    KEY = "policy"
    ISSUED_KEY = "policy_issued"  # {version: {"hash": ..., "at": unix time}} of every policy handed out

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Any] | None = None

    def current(self) -> dict[str, Any]:
        if self._cache is None:
            raw = self.store.get_kv(self.KEY)
            self._cache = orjson.loads(raw) if raw else dict(DEFAULT_POLICY)
        return self._cache

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        policy = {**self.current(), **changes}
        policy["version"] = int(self.current().get("version", 1)) + 1
        issued = self._issued_raw()
        issued.setdefault(str(self.current().get("version", 1)), {"hash": policy_hash(self.current()), "at": 0.0})
        issued[str(policy["version"])] = {"hash": policy_hash(policy), "at": time.time()}
        self.store.set_kv(self.ISSUED_KEY, orjson.dumps(issued).decode())
        self.store.set_kv(self.KEY, orjson.dumps(policy).decode())
        self._cache = policy
        return policy

    def _issued_raw(self) -> dict[str, dict[str, Any]]:
        raw = self.store.get_kv(self.ISSUED_KEY)
        data = orjson.loads(raw) if raw else {}
        return data if isinstance(data, dict) else {}

    def issued(self) -> dict[int, tuple[str, float]]:
        """Every policy version this deployment handed out: its hash and when it took effect (the one in force
        is always there; versions from before this record was kept are absent)."""
        out = {int(v): (str(rec["hash"]), float(rec.get("at", 0.0))) for v, rec in self._issued_raw().items()
               if str(v).isdigit() and isinstance(rec, dict) and "hash" in rec}
        current = self.current()
        out.setdefault(int(current.get("version", 1)), (policy_hash(current), 0.0))
        return out
