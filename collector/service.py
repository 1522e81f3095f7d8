"""The collector as one object: settings, store and the plain services the HTTP layer calls."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from agent import wire
from collector.access import AccessService
from collector.accounts import AccountService, Principal
from collector.config import Settings, load_settings
from collector.enrollment import EnrollmentService
from collector.errors import ConfigError, NotFound
from collector.ingest import IngestService
from collector.keys import load_key
from collector.metrics import Metrics
from collector.policy import PolicyService
from collector.storage import open_store
from collector.storage.sql import SqlStore

log = logging.getLogger(__name__)


class Collector:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        store = open_store(settings.database_url)
        if not isinstance(store, SqlStore):
            raise ConfigError("this collector build needs a SQL store")
        self.store = store
        self.store.create_schema()
        self.key = load_key(settings.data_dir)
        self.metrics = Metrics()
        self.policy = PolicyService(self.store)
        self.ingest = IngestService(self.store, self.key, settings, self.metrics)
        self.enrollment = EnrollmentService(self.store, wire.public_key_b64(self.key.public_key()), self.policy,
                                            settings.enroll_token_ttl_h)
        self.accounts = AccountService(self.store)
        self.access = AccessService(self.store)
        self._install_rollups()

    def _install_rollups(self) -> None:
        try:
            from collector.rollups import RollupUpdater
        except ImportError:
            return
        self.store.rollup_hook = RollupUpdater(self.store, self.settings, self.policy)

    @classmethod
    def open(cls, data_dir: Path, overrides: dict[str, Any] | None = None) -> Collector:
        if not data_dir.is_dir():
            raise ConfigError(f"{data_dir} is not a collector data folder: run `seatguard-collector init` first")
        return cls(load_settings(data_dir, overrides))

    def close(self) -> None:
        self.store.close()

    # -- queries (scope enforced and audited) -----------------------------------------------------------
    def agents_for(self, who: Principal) -> list[dict[str, Any]]:
        rows = self.store.list_agents(self.access.visible_teams(who))
        if who.role == "agent":
            rows = [r for r in self.store.list_agents() if r["agent_id"] == who.agent_id]
        return [{"agent_id": r["agent_id"], "team": r["team"], "role": r["role"], "events": r["events"],
                 "last_seen": r["last_seen"], "revoked": r["revoked_at"] is not None} for r in rows]

    def timeline_for(self, who: Principal, agent_id: str, day: str, remote: str | None = None) -> dict[str, Any]:
        _check_day(day)
        self.access.require_agent(who, agent_id, "read_timeline", remote)
        return self.timeline(agent_id, day)

    def timeline(self, agent_id: str, day: str) -> dict[str, Any]:
        _check_day(day)
        if self.store.get_agent(agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}")
        events = self.store.timeline(agent_id, day)
        return {"agent_id": agent_id, "date": day, "events": events, "cases": cases_from(events)}


def _check_day(day: str) -> None:
    try:
        date.fromisoformat(day)
    except ValueError as exc:
        raise NotFound(f"not a date: {day!r} (expected YYYY-MM-DD)") from exc


def cases_from(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair case.open / case.close into handled cases (handling times as the agent measured them)."""
    open_at: dict[str, str] = {}
    cases = []
    for e in events:
        if e["kind"] == "case.open":
            open_at[e["case_id"]] = e["ts"]
        elif e["kind"] == "case.close":
            cases.append({"case_id": e["case_id"], "opened": open_at.pop(e["case_id"], None), "closed": e["ts"],
                          "active_s": e["active_s"], "idle_s": e["idle_s"], "wall_s": e["wall_s"]})
    for case_id, ts in open_at.items():
        cases.append({"case_id": case_id, "opened": ts, "closed": None})
    return cases
