"""Rollup rows with their version (``rollups.version``, revision 0011), for the ingest hot path.

Every write of a row's ``state`` gives it a new version: a random 62-bit token, not a counter, so that a
row deleted (retention) and made again never comes back with a version some process still holds. A
process that keeps a rollup in memory (:class:`collector.hot_rollups.HotRollups`) compares the stored
version with the one it wrote before folding into its copy; any other writer's save changes it.

The statements are built once (bound parameters), so that SQLAlchemy's compiled cache serves every
batch without building a query object each time.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, insert, select, update

from collector.errors import StorageError
from collector.storage import tables as t

_r = t.rollups.c
_WHERE = and_(_r.agent_id == bindparam("a"), _r.day == bindparam("d"))
_VERSION = select(_r.version).where(_WHERE)
_STATE = select(_r.state, _r.version).where(_WHERE)
_UPDATE = (update(t.rollups).where(and_(_WHERE, _r.version == bindparam("expected")))
           .values(state=bindparam("body"), features=bindparam("feats"), updated_at=bindparam("at"),
                   version=bindparam("new")))
_INSERT = insert(t.rollups).values(agent_id=bindparam("a"), day=bindparam("d"), state=bindparam("body"),
                                   features=bindparam("feats"), updated_at=bindparam("at"),
                                   version=bindparam("new"))


def new_version() -> int:
    """A version no write has used (0 is what rows written before revision 0011 carry)."""
    return secrets.randbits(62) | 1


def version(conn: Connection, agent_id: str, day: str) -> int | None:
    """The stored version of the agent-day's rollup, or None when it has no row."""
    row = conn.execute(_VERSION, {"a": agent_id, "d": day}).first()
    return None if row is None else int(row[0])


def load(conn: Connection, agent_id: str, day: str) -> tuple[dict[str, Any], int] | None:
    """The stored state and its version, or None."""
    row = conn.execute(_STATE, {"a": agent_id, "d": day}).first()
    return None if row is None else (orjson.loads(row[0]), int(row[1]))


def save(conn: Connection, agent_id: str, day: str, body: str, features: str | None, at: float,
         expected: int | None) -> int:
    """Write the state ``body`` (JSON) over the row at version ``expected`` (None: a new row); returns
    the new version. A row whose version moved meanwhile is not overwritten: StorageError (the batch
    fails and the agent sends it again)."""
    new = new_version()
    params = {"a": agent_id, "d": day, "body": body, "feats": features, "at": at, "new": new}
    if expected is None:
        conn.execute(_INSERT, params)
        return new
    res = conn.execute(_UPDATE, {**params, "expected": expected})
    if res.rowcount != 1:
        raise StorageError(f"the rollup of {agent_id} on {day} changed during the batch; not overwritten")
    return new

