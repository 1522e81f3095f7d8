"""Schema version 1, as released (before Alembic): every table, on SQLite and PostgreSQL alike.

Databases made by that release have no ``alembic_version`` table; :mod:`collector.storage.schema`
recognises them (``kv.schema_version = 1``) and stamps them with this revision before upgrading.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def v1_metadata() -> MetaData:
    """The version-1 tables, frozen here (the live model in ``tables.py`` moves on)."""
    md = MetaData()
    Table("agents", md,
          Column("agent_id", String(64), primary_key=True),
          Column("team", String(64), nullable=False),
          Column("role", String(16), nullable=False),
          Column("shift_start", String(5)),
          Column("shift_end", String(5)),
          Column("hostname", Text),
          Column("user", Text),
          Column("public_key", String(64), nullable=False),
          Column("enrolled_at", Float, nullable=False),
          Column("revoked_at", Float),
          Column("last_seq", BigInteger, nullable=False),
          Column("last_batch_seq", BigInteger, nullable=False),
          Column("last_batch_hash", String(64)),
          Column("last_seen", Float),
          Column("events", BigInteger, nullable=False))
    Table("enroll_tokens", md,
          Column("token_hash", String(64), primary_key=True),
          Column("team", String(64), nullable=False),
          Column("role", String(16), nullable=False),
          Column("shift_start", String(5)),
          Column("shift_end", String(5)),
          Column("created_at", Float, nullable=False),
          Column("expires_at", Float, nullable=False),
          Column("used_at", Float),
          Column("agent_id", String(64)))
    Table("batches", md,
          Column("agent_id", String(64), primary_key=True),
          Column("batch_seq", BigInteger, primary_key=True),
          Column("hash", String(64), nullable=False),
          Column("received_at", Float, nullable=False),
          Column("n_events", Integer, nullable=False))
    Table("events", md,
          Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
          Column("agent_id", String(64), nullable=False),
          Column("seq", BigInteger, nullable=False),
          Column("ts", String(40), nullable=False),
          Column("ts_ms", BigInteger, nullable=False),
          Column("day", String(10), nullable=False),
          Column("kind", String(32), nullable=False),
          Column("data", Text, nullable=False),
          UniqueConstraint("agent_id", "seq", name="uq_events_agent_seq"),
          Index("ix_events_agent_day", "agent_id", "day"))
    Table("quarantine", md,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("agent_id", String(64), nullable=False),
          Column("batch_seq", BigInteger, nullable=False),
          Column("received_at", Float, nullable=False),
          Column("reason", Text, nullable=False),
          Column("raw", Text, nullable=False))
    Table("integrity", md,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("agent_id", String(64), nullable=False),
          Column("kind", String(32), nullable=False),
          Column("detail", Text, nullable=False),
          Column("at", Float, nullable=False),
          Index("ix_integrity_agent", "agent_id"))
    Table("rejections", md,
          Column("code", String(40), primary_key=True),
          Column("count", BigInteger, nullable=False))
    Table("rollups", md,
          Column("agent_id", String(64), primary_key=True),
          Column("day", String(10), primary_key=True),
          Column("state", Text, nullable=False),
          Column("features", Text),
          Column("updated_at", Float, nullable=False),
          Index("ix_rollups_day", "day"))
    Table("kv", md,
          Column("key", String(64), primary_key=True),
          Column("value", Text, nullable=False))
    Table("users", md,
          Column("name", String(64), primary_key=True),
          Column("role", String(16), nullable=False),
          Column("teams", Text, nullable=False),
          Column("agent_id", String(64)),
          Column("password_hash", Text, nullable=False),
          Column("failed", Integer, nullable=False),
          Column("locked_until", Float),
          Column("created_at", Float, nullable=False),
          Column("disabled", Boolean, nullable=False))
    Table("api_tokens", md,
          Column("token_hash", String(64), primary_key=True),
          Column("user", String(64), nullable=False),
          Column("created_at", Float, nullable=False),
          Column("revoked_at", Float))
    Table("audit", md,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("at", Float, nullable=False),
          Column("actor", String(64), nullable=False),
          Column("action", String(64), nullable=False),
          Column("target", Text, nullable=False),
          Column("allowed", Boolean, nullable=False),
          Column("remote", String(64)))
    Table("reports", md,
          Column("day", String(10), primary_key=True),
          Column("created_at", Float, nullable=False),
          Column("body", Text, nullable=False))
    Table("labels", md,
          Column("agent_id", String(64), primary_key=True),
          Column("day", String(10), primary_key=True),
          Column("label", String(16), nullable=False),
          Column("reviewer", String(64), nullable=False),
          Column("note", Text),
          Column("at", Float, nullable=False))
    return md


def upgrade() -> None:
    md = v1_metadata()
    bind = op.get_bind()
    md.create_all(bind)
    bind.execute(insert(md.tables["kv"]).values(key="schema_version", value="1"))


def downgrade() -> None:
    v1_metadata().drop_all(op.get_bind())
