"""Scope enforcement and the audit log: every read of a timeline, report or screenshot is recorded.

A read that shows several agents (a report, an alert list, the wall, the agents list) is recorded
once per agent shown (:meth:`AccessService.audit_shown`, one batched insert), in ``audit.agent_id``:
that column is what an agent's "who viewed my data" looks up.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select

from collector.accounts import Principal
from collector.errors import Forbidden, NotFound
from collector.storage import tables as t
from collector.storage.sql import SqlStore
from contract.masking import mask_text
from detectors.csv_cells import csv_row, csv_writer

log = logging.getLogger(__name__)
LOGGED_TARGET = 160  # characters of a refused target in the log (what a caller typed can be long)


class AccessService:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def audit(self, who: Principal, action: str, target: str, allowed: bool, remote: str | None = None,
              agent_id: str | None = None) -> None:
        target = mask_text(target)  # privacy rule 1: a target may hold what a caller typed (an unknown agent id)
        with self.store._write() as conn:
            conn.execute(insert(t.audit).values(at=time.time(), actor=who.name, action=action, target=target,
                                                allowed=allowed, remote=remote, agent_id=agent_id))
        if not allowed:  # the audit keeps the whole (masked) target; the log line a short one
            shown = target if len(target) <= LOGGED_TARGET else target[:LOGGED_TARGET] + "..."
            log.warning("refused %s %s to %s (%s)", action, shown, who.name, who.role)

    def audit_shown(self, who: Principal, action: str, target: str, agent_ids: Iterable[str],
                    remote: str | None = None) -> int:
        """An allowed read that showed these agents: one record per agent, in one batched insert.

        With no agent shown, one record without an agent says that the read happened. Returns the
        number of records written.
        """
        ids: list[str | None] = [*sorted({a for a in agent_ids if a})]
        target = mask_text(target)
        at = time.time()
        rows = [{"at": at, "actor": who.name, "action": action, "target": target, "allowed": True,
                 "remote": remote, "agent_id": a} for a in ids or [None]]
        with self.store._write() as conn:
            conn.execute(insert(t.audit), rows)
        return len(rows)

    def require_agent(self, who: Principal, agent_id: str, action: str, remote: str | None) -> dict[str, Any]:
        agent = self.store.get_agent(agent_id)
        if agent is None:
            self.audit(who, action, agent_id, False, remote)
            raise NotFound(f"no agent {agent_id!r}")
        ok = who.can_see_team(agent["team"]) or (who.role == "agent" and who.agent_id == agent_id)
        self.audit(who, action, agent_id, ok, remote, agent_id)
        if not ok:
            raise Forbidden(f"agent {agent_id!r} is outside your scope")
        return agent

    def require_role(self, who: Principal, roles: tuple[str, ...], action: str, target: str,
                     remote: str | None) -> None:
        ok = who.role in roles
        self.audit(who, action, target, ok, remote)
        if not ok:
            raise Forbidden(f"role {who.role!r} may not {action}")

    def refuse_unless(self, who: Principal, roles: tuple[str, ...], action: str, target: str,
                      remote: str | None) -> None:
        """Like :meth:`require_role` but audits only a refusal (the caller audits the read itself)."""
        if who.role not in roles:
            self.require_role(who, roles, action, target, remote)

    def search(self, actor: str = "", action: str = "", target: str = "", allowed: bool | None = None,
               since: float | None = None, until: float | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
        """Audit records, newest first; text filters match a part of the field, case-insensitively."""
        a = t.audit
        q = select(a).order_by(a.c.id.desc()).limit(max(1, min(limit, 100_000)))
        for column, text in ((a.c.actor, actor), (a.c.action, action)):
            if text:
                q = q.where(func.lower(column).contains(text.lower(), autoescape=True))
        if target:  # what was read, or whose data it showed
            q = q.where(or_(func.lower(a.c.target).contains(target.lower(), autoescape=True),
                            func.lower(a.c.agent_id).contains(target.lower(), autoescape=True)))
        if allowed is not None:
            q = q.where(a.c.allowed.is_(allowed))
        if since is not None:
            q = q.where(a.c.at >= since)
        if until is not None:
            q = q.where(a.c.at < until)
        with self.store._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def viewers_of(self, agent_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Who looked (or tried to look) at this agent's data, newest first (one index lookup)."""
        a = t.audit
        q = select(a).where(a.c.agent_id == agent_id).order_by(a.c.id.desc()).limit(limit)
        with self.store._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

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


def audit_csv(rows: list[dict[str, Any]], tz: Any) -> str:
    """Audit records as CSV (UTF-8 text): local time, actor, action, target, agent shown, allowed, remote."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["id", "at", "actor", "action", "target", "agent_id", "allowed", "remote"])
    for r in rows:
        at = datetime.fromtimestamp(float(r["at"]), tz).isoformat(timespec="seconds")
        writer.writerow(csv_row([r["id"], at, r["actor"], r["action"], r["target"], r.get("agent_id") or "",
                                 "yes" if r["allowed"] else "no", r["remote"] or ""]))
    return out.getvalue()
