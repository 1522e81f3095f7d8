"""Schema version 2: PostgreSQL keeps events in day partitions; quarantine is indexed by agent.

PostgreSQL: ``events`` becomes a table partitioned by range of ``day`` (one partition a day, made on
demand at ingest, dropped whole by retention). A unique key on a partitioned table must hold the
partition key, so ``(agent_id, seq)`` becomes the primary key ``(agent_id, seq, day)``; the store
checks seq duplicates across days itself, under the agent's row lock. The surrogate ``id`` goes
(nothing reads it). ``day`` compares in the "C" collation so that partition bounds are plain
string order. Existing rows are copied into their partitions.

SQLite keeps its single events table (WAL, one writer): only the new index applies there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from collector.storage.partitions import create_partition

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_quarantine_agent", "quarantine", ["agent_id"])
    op.execute("UPDATE kv SET value = '2' WHERE key = 'schema_version'")
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    op.execute("ALTER TABLE events RENAME TO events_v1")
    op.execute(
        'CREATE TABLE events ('
        ' agent_id VARCHAR(64) NOT NULL,'
        ' seq BIGINT NOT NULL,'
        ' ts VARCHAR(40) NOT NULL,'
        ' ts_ms BIGINT NOT NULL,'
        ' day VARCHAR(10) COLLATE "C" NOT NULL,'
        ' kind VARCHAR(32) NOT NULL,'
        ' data TEXT NOT NULL,'
        ' CONSTRAINT pk_events PRIMARY KEY (agent_id, seq, day)'
        ') PARTITION BY RANGE (day)')
    days = [str(r[0]) for r in bind.execute(text("SELECT DISTINCT day FROM events_v1 ORDER BY day"))]
    for day in days:
        create_partition(bind, day)
    op.execute("INSERT INTO events (agent_id, seq, ts, ts_ms, day, kind, data) "
               "SELECT agent_id, seq, ts, ts_ms, day, kind, data FROM events_v1")
    op.execute("DROP TABLE events_v1")


def downgrade() -> None:
    op.drop_index("ix_quarantine_agent", "quarantine")
    op.execute("UPDATE kv SET value = '1' WHERE key = 'schema_version'")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE events RENAME TO events_v2")
    op.execute(
        "CREATE TABLE events ("
        " id BIGSERIAL PRIMARY KEY,"
        " agent_id VARCHAR(64) NOT NULL,"
        " seq BIGINT NOT NULL,"
        " ts VARCHAR(40) NOT NULL,"
        " ts_ms BIGINT NOT NULL,"
        " day VARCHAR(10) NOT NULL,"
        " kind VARCHAR(32) NOT NULL,"
        " data TEXT NOT NULL,"
        " CONSTRAINT uq_events_agent_seq UNIQUE (agent_id, seq))")
    op.execute("CREATE INDEX ix_events_agent_day ON events (agent_id, day)")
    op.execute("INSERT INTO events (agent_id, seq, ts, ts_ms, day, kind, data) "
               "SELECT agent_id, seq, ts, ts_ms, day, kind, data FROM events_v2 ORDER BY day, ts_ms, seq")
    op.execute("DROP TABLE events_v2")
