"""The live wall's reads of an agent's day (table ``events``): the repository of :class:`collector.wall.WallService`.

For one agent-day: the newest event, the newest ``app.focus`` and input event, and how many cases
were closed, in one read transaction (the wall caches the answer until the agent's event count moves).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import orjson
from sqlalchemy import and_, func, select

from collector.storage import tables as t
from collector.storage.connections import Connections


class WallRepo(ABC):
    @abstractmethod
    def day_facts(self, agent_id: str, day: str) -> dict[str, Any]:
        """``last_kind``, ``last_ts`` of the newest event; ``app`` of the newest ``app.focus``; ``input``:
        the kind of the newest ``input.idle``/``input.active``; ``cases``: ``case.close`` events (None where
        the day has no such event)."""


class SqlWallRepo(WallRepo):
    def __init__(self, db: Connections) -> None:
        self.db = db

    def day_facts(self, agent_id: str, day: str) -> dict[str, Any]:
        ev = t.events
        today = and_(ev.c.agent_id == agent_id, ev.c.day == day)
        with self.db._read() as conn:
            def latest(*kinds: str) -> dict[str, Any] | None:
                q = select(ev.c.data).where(today)
                if kinds:
                    q = q.where(ev.c.kind.in_(kinds))
                row = conn.execute(q.order_by(ev.c.ts_ms.desc(), ev.c.seq.desc()).limit(1)).first()
                return None if row is None else dict(orjson.loads(row[0]))

            last = latest()
            focus = latest("app.focus")
            user_input = latest("input.idle", "input.active")
            cases = conn.execute(select(func.count()).select_from(ev)
                                 .where(today, ev.c.kind == "case.close")).scalar_one()
        return {
            "last_kind": None if last is None else str(last["kind"]),
            "last_ts": None if last is None else str(last["ts"]),
            "app": None if focus is None else str(focus.get("app", "")),
            "input": None if user_input is None else str(user_input["kind"]),
            "cases": int(cases),
        }
