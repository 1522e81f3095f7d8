"""The statements of an ingest transaction, built once with bound parameters.

Building a SQLAlchemy statement per batch (and per call) costs more than running it on SQLite; these
objects are made at import and keep their compiled form in the engine's cache, so a batch pays only
for binding its values. Parameter names differ from column names (SQLAlchemy keeps those for itself).
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, insert, or_, select, update

from collector.storage import tables as t

_a = t.agents.c
_b = t.batches.c

LOCK_AGENT = (select(_a.last_seq, _a.last_batch_seq, _a.last_batch_hash, _a.revoked_at, _a.public_key)
              .where(_a.agent_id == bindparam("a")).with_for_update())
BATCH_AND_PREVIOUS = select(_b.batch_seq, _b.hash).where(and_(  # the batch itself (stored already?) and the one before
    _b.agent_id == bindparam("a"), or_(_b.batch_seq == bindparam("s"), _b.batch_seq == bindparam("p"))))
INSERT_BATCH = insert(t.batches).values(agent_id=bindparam("a"), batch_seq=bindparam("s"), hash=bindparam("h"),
                                        received_at=bindparam("at"), n_events=bindparam("n"))
UPDATE_AGENT = update(t.agents).where(_a.agent_id == bindparam("a")).values(
    last_seq=bindparam("ls"), last_seen=bindparam("at"), events=_a.events + bindparam("st"))
UPDATE_AGENT_BATCH = update(t.agents).where(_a.agent_id == bindparam("a")).values(
    last_seq=bindparam("ls"), last_seen=bindparam("at"), events=_a.events + bindparam("st"),
    last_batch_seq=bindparam("s"), last_batch_hash=bindparam("h"))
EVENT_COLUMNS = ("agent_id", "seq", "ts", "ts_ms", "day", "kind", "data")
