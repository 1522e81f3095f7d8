"""Schema version 8: shifts entered per agent and day.

``shifts`` holds, per agent and calendar day, the shift a lead or manager entered for that day
(``kind = 'shift'``: a rota day, replacing the agent's usual shift) and scheduled overtime
(``kind = 'overtime'``: a window added to the day's shift). Who entered it and when are kept with it.
The agent's usual shift stays in ``agents.shift_start``/``shift_end``.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Column, Float, String

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shifts",
        Column("agent_id", String(64), primary_key=True),
        Column("day", String(10), primary_key=True),
        Column("kind", String(16), primary_key=True),
        Column("shift_start", String(5), nullable=False),
        Column("shift_end", String(5), nullable=False),
        Column("entered_by", String(64), nullable=False),
        Column("entered_at", Float, nullable=False),
    )
    op.create_index("ix_shifts_day", "shifts", ["day"])
    op.execute("UPDATE kv SET value = '8' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("ix_shifts_day", table_name="shifts")
    op.drop_table("shifts")
    op.execute("UPDATE kv SET value = '7' WHERE key = 'schema_version'")
