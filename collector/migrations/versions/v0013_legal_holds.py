"""Schema version 13: legal holds.

``legal_holds`` holds one row per agent whose data retention is suspended (privacy rule 4): why
(``reason``, masked), who set it and when. Lifting a hold deletes its row; the audit log keeps
both actions with their reasons (actions ``set_legal_hold`` and ``lift_legal_hold``).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Float, String, Text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        Column("agent_id", String(64), primary_key=True),
        Column("reason", Text, nullable=False),
        Column("set_by", String(64), nullable=False),
        Column("set_at", Float, nullable=False),
    )
    op.execute("UPDATE kv SET value = '13' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.execute("UPDATE kv SET value = '12' WHERE key = 'schema_version'")
