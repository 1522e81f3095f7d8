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

from collector.accounts import Principal
from collector.errors import Forbidden, NotFound
from collector.storage.audit import AuditRecord
from collector.storage.base import Store
from contract.masking import mask_text
from detectors.csv_cells import csv_row, csv_writer

log = logging.getLogger(__name__)
LOGGED_TARGET = 160  # characters of a refused target in the log (what a caller typed can be long)


class AccessService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.records = store.audit

    def audit(self, who: Principal, action: str, target: str, allowed: bool, remote: str | None = None,
              agent_id: str | None = None) -> None:
        target = mask_text(target)  # privacy rule 1: a target may hold what a caller typed (an unknown agent id)
        self.records.add([AuditRecord(time.time(), who.name, action, target, allowed, remote, agent_id)])
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
        rows = [AuditRecord(at, who.name, action, target, True, remote, a) for a in ids or [None]]
        self.records.add(rows)
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
        return self.records.search(actor, action, target, allowed, since, until, limit)

    def viewers_of(self, agent_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Who looked (or tried to look) at this agent's data, newest first (one index lookup)."""
        return self.records.of_agent(agent_id, limit)

    def audit_log(self, limit: int = 500) -> list[dict[str, Any]]:
        return self.records.search(limit=limit)

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
