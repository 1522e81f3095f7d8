"""Scope enforcement and the audit log: every read of a timeline, report or screenshot is recorded."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import insert, select

from collector.accounts import Principal
from collector.errors import Forbidden, NotFound
from collector.storage import tables as t
from collector.storage.sql import SqlStore

log = logging.getLogger(__name__)


class AccessService:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def audit(self, who: Principal, action: str, target: str, allowed: bool, remote: str | None = None) -> None:
        with self.store._write() as conn:
            conn.execute(insert(t.audit).values(at=time.time(), actor=who.name, action=action, target=target,
                                                allowed=allowed, remote=remote))
        if not allowed:
            log.warning("refused %s %s to %s (%s)", action, target, who.name, who.role)

    def require_agent(self, who: Principal, agent_id: str, action: str, remote: str | None) -> dict[str, Any]:
        agent = self.store.get_agent(agent_id)
        if agent is None:
            self.audit(who, action, agent_id, False, remote)
            raise NotFound(f"no agent {agent_id!r}")
        ok = who.can_see_team(agent["team"]) or (who.role == "agent" and who.agent_id == agent_id)
        self.audit(who, action, agent_id, ok, remote)
        if not ok:
            raise Forbidden(f"agent {agent_id!r} is outside your scope")
        return agent

    def require_role(self, who: Principal, roles: tuple[str, ...], action: str, target: str,
                     remote: str | None) -> None:
        ok = who.role in roles
        self.audit(who, action, target, ok, remote)
        if not ok:
            raise Forbidden(f"role {who.role!r} may not {action}")

    def audit_log(self, limit: int = 500) -> list[dict[str, Any]]:
        with self.store._read() as conn:
            rows = conn.execute(select(t.audit).order_by(t.audit.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def visible_teams(self, who: Principal) -> list[str] | None:
        if who.role in ("admin", "security"):
            return None
        if who.role == "manager":
            return list(who.teams)
        return []
