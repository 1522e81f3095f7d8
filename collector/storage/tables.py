"""Table definitions shared by every SQL backend (SQLAlchemy Core)."""

from __future__ import annotations

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
)

SCHEMA_VERSION = 1
metadata = MetaData()

agents = Table(
    "agents", metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("team", String(64), nullable=False),
    Column("role", String(16), nullable=False, default="agent"),
    Column("shift_start", String(5)),
    Column("shift_end", String(5)),
    Column("hostname", Text),
    Column("user", Text),
    Column("public_key", String(64), nullable=False),
    Column("enrolled_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("last_batch_seq", BigInteger, nullable=False, default=0),
    Column("last_batch_hash", String(64)),
    Column("last_seen", Float),
    Column("events", BigInteger, nullable=False, default=0),
)

enroll_tokens = Table(
    "enroll_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("team", String(64), nullable=False),
    Column("role", String(16), nullable=False, default="agent"),
    Column("shift_start", String(5)),
    Column("shift_end", String(5)),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
    Column("agent_id", String(64)),
)

batches = Table(
    "batches", metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("batch_seq", BigInteger, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("n_events", Integer, nullable=False),
)

events = Table(
    "events", metadata,
    Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
    Column("agent_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts", String(40), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("agent_id", "seq", name="uq_events_agent_seq"),
    Index("ix_events_agent_day", "agent_id", "day"),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", String(64), nullable=False),
    Column("batch_seq", BigInteger, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
)

integrity = Table(
    "integrity", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_integrity_agent", "agent_id"),
)

rejections = Table(
    "rejections", metadata,
    Column("code", String(40), primary_key=True),
    Column("count", BigInteger, nullable=False, default=0),
)

rollups = Table(
    "rollups", metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("state", Text, nullable=False),
    Column("features", Text),
    Column("updated_at", Float, nullable=False),
    Index("ix_rollups_day", "day"),
)

kv = Table(
    "kv", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("teams", Text, nullable=False, default=""),
    Column("agent_id", String(64)),
    Column("password_hash", Text, nullable=False),
    Column("failed", Integer, nullable=False, default=0),
    Column("locked_until", Float),
    Column("created_at", Float, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("remote", String(64)),
)

reports = Table(
    "reports", metadata,
    Column("day", String(10), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("body", Text, nullable=False),
)

labels = Table(
    "labels", metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("label", String(16), nullable=False),
    Column("reviewer", String(64), nullable=False),
    Column("note", Text),
    Column("at", Float, nullable=False),
)
