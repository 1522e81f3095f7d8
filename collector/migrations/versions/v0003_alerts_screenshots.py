"""Schema version 3: the alerts, their deliveries and the sealed screenshots get their tables here.

Collectors at revision 0002 created these three tables themselves when they started, so a database
being upgraded may hold them already, with rows: each is created only where it is missing. The
definitions are frozen here, as every revision's must be.

Downgrading to 0002 leaves the tables and their rows in place: a 0002 collector uses them as they are.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text, inspect

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def v3_tables() -> list[Table]:
    md = MetaData()
    bigint_id = Integer().with_variant(BigInteger, "postgresql")
    return [
        Table(
            "alerts", md,
            Column("id", bigint_id, primary_key=True, autoincrement=True),
            Column("key", String(200), nullable=False, unique=True),
            Column("rule", String(64), nullable=False),
            Column("severity", String(16), nullable=False),
            Column("agent_id", String(64), nullable=False),
            Column("team", String(64), nullable=False),
            Column("day", String(10), nullable=False),
            Column("value", Float, nullable=False),
            Column("state", String(16), nullable=False),
            Column("raised_at", Float, nullable=False),
            Column("updated_at", Float, nullable=False),
            Column("last_sent_at", Float),
            Column("body", Text, nullable=False),
            Index("ix_alerts_agent_rule", "agent_id", "rule"),
            Index("ix_alerts_raised", "raised_at"),
            Index("ix_alerts_day", "day"),
        ),
        Table(
            "alert_deliveries", md,
            Column("id", bigint_id, primary_key=True, autoincrement=True),
            Column("uid", String(32), nullable=False, unique=True),
            Column("alert_id", BigInteger, nullable=False),
            Column("channel", String(16), nullable=False),
            Column("event", String(32), nullable=False),
            Column("payload", Text, nullable=False),
            Column("state", String(16), nullable=False),
            Column("attempts", Integer, nullable=False, default=0),
            Column("last_error", Text),
            Column("created_at", Float, nullable=False),
            Column("updated_at", Float, nullable=False),
            Index("ix_alert_deliveries_state", "state"),
        ),
        Table(
            "screenshots", md,
            Column("id", bigint_id, primary_key=True, autoincrement=True),
            Column("agent_id", String(64), nullable=False),
            Column("blob_id", String(64), nullable=False, unique=True),
            Column("sealed_at", String(40), nullable=False),
            Column("received_at", Float, nullable=False),
            Column("size", Integer, nullable=False),
            Column("envelope", Text, nullable=False),
        ),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    for table in v3_tables():
        if not inspect(bind).has_table(table.name):
            table.create(bind)
    op.execute("UPDATE kv SET value = '3' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.execute("UPDATE kv SET value = '2' WHERE key = 'schema_version'")
