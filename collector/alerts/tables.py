"""The alerts' own tables, as the alerts code reads and writes them.

They live on their own ``MetaData``, beside the storage layer's. Revision 0003 in
``collector/migrations`` creates them (with a frozen copy of these definitions);
``tests/test_storage_migrations.py`` checks that the two agree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

alerts = Table(
    "alerts", metadata,
    Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
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
)

deliveries = Table(
    "alert_deliveries", metadata,
    Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
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
)

ALERT_TABLES = (alerts, deliveries)
