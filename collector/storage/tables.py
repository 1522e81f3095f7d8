"""The newest schema as SQLAlchemy Core tables, all on one ``MetaData``: what the queries are written against.

The DDL itself lives in the Alembic revisions (``collector/migrations``), which differ per backend
where they must: on PostgreSQL ``events`` is partitioned by day with the primary key
``(agent_id, seq, day)``; SQLite keeps one ``events`` table (rowid ``id``, unique ``(agent_id, seq)``).
A test checks that the migrated databases match these tables. Every table the collector uses is
declared here, the alerts' and screenshots' too: no other module declares a ``MetaData`` (a test checks).
"""

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
    text,
)

SCHEMA_VERSION = 13  # kv "schema_version"; the Alembic head revision is "0013"
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
    Column("id_key", String(160)),  # collector.agent_ids.id_key: look-alike ids share it (revision 0004)
    Index("uq_agents_id_key", "id_key", unique=True),
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
    Column("name", String(64)),  # the agent_id the admin named on the token: binding (revision 0004)
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
    Column("agent_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("ts", String(40), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("day", String(10), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("data", Text, nullable=False),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", String(64), nullable=False),
    Column("batch_seq", BigInteger, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Index("ix_quarantine_agent", "agent_id"),
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
    # revision 0011: changes with every write of ``state`` (collector.hot_rollups keeps states in memory by it)
    Column("version", BigInteger, nullable=False, server_default=text("0")),
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
    Column("expires_at", Float),  # revision 0005; NULL is never accepted
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
    Column("agent_id", String(64)),  # revision 0006: whose data the read showed (one record per agent)
    Index("ix_audit_agent", "agent_id", "id"),
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
    Column("snapshot", Text),          # the labelled finding (JSON: score, rules, values, pattern)
    Column("pattern", Text),           # detectors.feedback.Pattern.key of that finding
)

shifts = Table(  # revision 0008: a day's shift entered for one agent (rota) or scheduled overtime on top of it
    "shifts", metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "shift" (replaces the usual one) or "overtime" (added)
    Column("shift_start", String(5), nullable=False),
    Column("shift_end", String(5), nullable=False),
    Column("entered_by", String(64), nullable=False),
    Column("entered_at", Float, nullable=False),
    Index("ix_shifts_day", "day"),
)

policy_versions = Table(  # revision 0009: every policy version saved; the newest is in force
    "policy_versions", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),  # the key is the compare-and-set
    Column("body", Text, nullable=False),  # the policy as JSON ("null" for a version whose text predates 0009)
    Column("hash", String(64), nullable=False),  # contract.signed_policy.policy_hash of the body
    Column("saved_at", Float, nullable=False),
    Column("saved_by", String(64)),
)

job_runs = Table(  # revision 0009: one row per run of a scheduled job, whichever process ran it
    "job_runs", metadata,
    Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=False),
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # running, ok, failed
    Column("detail", Text),
    Index("ix_job_runs_job_started", "job", "started"),
)

legal_holds = Table(  # revision 0013: agents whose retention is suspended (collector.holds), one row each
    "legal_holds", metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("reason", Text, nullable=False),  # masked
    Column("set_by", String(64), nullable=False),
    Column("set_at", Float, nullable=False),
)

job_leases = Table(  # revision 0009: who runs a job now, where there are no advisory locks (SQLite)
    "job_leases", metadata,
    Column("job", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("expires", Float, nullable=False),
)

alerts = Table(  # revision 0003: an alert raised by a live rule, one row per key (rule, agent, day, ...)
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

alert_deliveries = Table(  # revision 0003: the alerts' outbox, one row per alert, channel and event
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

ALERT_TABLES = (alerts, alert_deliveries)

screenshots = Table(  # revision 0003 (0006: blob ids unique per agent): sealed screenshot envelopes
    "screenshots", metadata,
    Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
    Column("agent_id", String(64), nullable=False),
    Column("blob_id", String(64), nullable=False),  # unique per agent (revision 0006), not across agents
    Column("sealed_at", String(40), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("size", Integer, nullable=False),
    Column("envelope", Text, nullable=False),
    Index("uq_screenshots_agent_blob", "agent_id", "blob_id", unique=True),
    Index("ix_screenshots_agent_received", "agent_id", "received_at"),
)
