"""Schema version 6: audit records name the agent whose data was shown; blob ids are per agent.

- ``audit.agent_id`` (indexed with ``id``): the agent whose data a read showed. A report, an alert
  list, the wall or the agents list is written as one record per agent shown, so that an agent's
  "who viewed my data" (``/me``) finds every viewer in one index lookup. Existing records get it where
  their target names an agent: a timeline read (``pc-a1``), a screenshot (``pc-a1/blob``), an
  acknowledged alert (``17 pc-a1``) or a review label (``pc-a1 2026-11-23 benign``).
- ``screenshots``: ``blob_id`` is unique per agent (``uq_screenshots_agent_blob``) instead of across
  all agents, so one PC cannot collide with or block another's screenshot; an index on
  ``(agent_id, received_at)`` serves the per-agent daily quota.

Downgrading drops the column and restores the global unique blob_id, which fails (and changes
nothing) while two agents hold the same blob_id.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, Connection, Float, Integer, MetaData, String, Table, Text, inspect, text

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SPLIT = {"read_screenshot": "/", "ack_alert": " ", "label_finding": " "}


def _screenshots(unique_blob: bool) -> Table:
    """The screenshots table as revision 0003 made it (``unique_blob``) or without the global unique."""
    return Table(
        "screenshots", MetaData(),
        Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
        Column("agent_id", String(64), nullable=False),
        Column("blob_id", String(64), nullable=False, unique=unique_blob),
        Column("sealed_at", String(40), nullable=False),
        Column("received_at", Float, nullable=False),
        Column("size", Integer, nullable=False),
        Column("envelope", Text, nullable=False),
    )


def _backfill(conn: Connection) -> None:
    conn.execute(text("UPDATE audit SET agent_id = target WHERE agent_id IS NULL "
                      "AND target IN (SELECT agent_id FROM agents)"))
    agents = {str(r[0]) for r in conn.execute(text("SELECT agent_id FROM agents"))}
    for action, sep in SPLIT.items():
        rows = conn.execute(text("SELECT id, target FROM audit WHERE action = :a AND agent_id IS NULL"),
                            {"a": action}).all()
        for rid, target in rows:
            found = next((p for p in str(target).split(sep) if p in agents), None)
            if found is not None:
                conn.execute(text("UPDATE audit SET agent_id = :g WHERE id = :i"), {"g": found, "i": rid})


def _global_unique(bind: Connection) -> list[str]:
    found = inspect(bind).get_unique_constraints("screenshots")
    return [str(u["name"]) for u in found if u.get("column_names") == ["blob_id"] and u.get("name")]


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("audit", Column("agent_id", String(64), nullable=True))
    op.create_index("ix_audit_agent", "audit", ["agent_id", "id"])
    _backfill(bind)
    if bind.dialect.name == "sqlite":  # the 0003 UNIQUE is inline: copy the table without it
        with op.batch_alter_table("screenshots", copy_from=_screenshots(False), recreate="always"):
            pass
    else:
        for name in _global_unique(bind):
            op.drop_constraint(name, "screenshots", type_="unique")
    op.create_index("uq_screenshots_agent_blob", "screenshots", ["agent_id", "blob_id"], unique=True)
    op.create_index("ix_screenshots_agent_received", "screenshots", ["agent_id", "received_at"])
    op.execute("UPDATE kv SET value = '6' WHERE key = 'schema_version'")


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index("ix_screenshots_agent_received", table_name="screenshots")
    op.drop_index("uq_screenshots_agent_blob", table_name="screenshots")
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("screenshots", copy_from=_screenshots(True), recreate="always"):
            pass
    else:
        op.create_unique_constraint("screenshots_blob_id_key", "screenshots", ["blob_id"])
    op.drop_index("ix_audit_agent", table_name="audit")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("agent_id")
    op.execute("UPDATE kv SET value = '5' WHERE key = 'schema_version'")
