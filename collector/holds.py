"""Legal holds: an administrator suspends retention (privacy rule 4) for one agent, with a reason.

While an agent is held, the purge removes none of its data: events of every kind, screenshots,
rollups, shifts, quarantined events, integrity records and alerts (the daily reports, which are of
the whole fleet, still go), and ingest stores the agent's events even when they are already older than
their kind's period (:class:`collector.ingest.IngestService`). Setting and lifting a hold are admin
actions (the admin page, ``/api/v1/agents/{id}/hold[/lift]``, ``seatguard-collector hold``:
:mod:`collector.hold_cli`), audited with the reason (``set_legal_hold``, ``lift_legal_hold``; a refusal
is audited too), and the agent sees their hold on their own page (``/me``). Holds live in the database
(``store.holds``), so every collector process purges alike.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from collector.access import AccessService
from collector.accounts import Principal
from collector.errors import CollectorError, NotFound
from collector.metrics import Metrics
from collector.storage.holds import HoldRepo
from contract.masking import mask_text

log = logging.getLogger(__name__)
MAX_REASON = 500  # characters of a hold's reason
ADMINS = ("admin",)


class BadHold(CollectorError):
    """A hold request that cannot be carried out (400 bad_hold): what is wrong is in the message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="bad_hold", status=400)


class HoldService:
    def __init__(self, repo: HoldRepo, access: AccessService, metrics: Metrics) -> None:
        self.repo = repo
        self.access = access
        self.counts = metrics.legal_holds

    def set_for(self, who: Principal, agent_id: str, reason: str, remote: str | None = None) -> dict[str, Any]:
        """Hold the agent's data (admins); a hold in place takes the new reason."""
        reason = self._checked(who, "set_legal_hold", agent_id, reason, remote)
        new = self.repo.put(agent_id, reason, who.name, time.time())
        self.counts.labels("set").inc()
        log.info("legal hold %s for agent %s by %s", "set" if new else "renewed", agent_id, who.name)
        return {"agent_id": agent_id, "held": True, "new": new, "hold": self.repo.get(agent_id)}

    def lift_for(self, who: Principal, agent_id: str, reason: str, remote: str | None = None) -> dict[str, Any]:
        """End the agent's hold (admins): the next purge applies retention to its data again."""
        reason = self._checked(who, "lift_legal_hold", agent_id, reason, remote, must_exist=True)
        self.repo.lift(agent_id)
        self.counts.labels("lifted").inc()
        log.info("legal hold lifted for agent %s by %s", agent_id, who.name)
        return {"agent_id": agent_id, "held": False}

    def list_for(self, who: Principal, remote: str | None = None) -> list[dict[str, Any]]:
        self.access.require_role(who, ADMINS, "read_legal_holds", "holds", remote)
        return self.repo.all()

    def of(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's hold (the agent's own page shows it), or None."""
        return self.repo.get(agent_id)

    def held(self) -> frozenset[str]:
        return self.repo.held()

    def all(self) -> list[dict[str, Any]]:
        """Every hold (the admin page, which audits its own read)."""
        return self.repo.all()

    def _checked(self, who: Principal, action: str, agent_id: str, reason: str, remote: str | None,
                 must_exist: bool = False) -> str:
        """The masked reason, once the caller is an admin, the agent exists and the reason is fine; the
        action is audited (allowed with the reason, or refused)."""
        target = f"{agent_id}: {reason.strip()}"
        if who.role not in ADMINS:
            self.counts.labels("refused").inc()
        self.access.refuse_unless(who, ADMINS, action, target, remote)
        if self.access.store.get_agent(agent_id) is None:
            self.counts.labels("refused").inc()
            self.access.audit(who, action, target, False, remote)
            raise NotFound(f"no agent {agent_id!r}")
        text = mask_text(" ".join(reason.split()))
        problem = ("a legal hold needs a reason" if not text else
                   f"the reason is longer than {MAX_REASON} characters" if len(text) > MAX_REASON else
                   f"agent {agent_id!r} is not under a legal hold" if must_exist and self.repo.get(agent_id) is None
                   else None)
        if problem:
            self.counts.labels("refused").inc()
            self.access.audit(who, action, target, False, remote, agent_id)
            log.warning("%s for agent %s by %s refused: %s", action, agent_id, who.name, problem)
            raise BadHold(problem)
        self.access.audit(who, action, f"{agent_id}: {text}", True, remote, agent_id)
        return text
