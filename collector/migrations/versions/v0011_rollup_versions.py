"""Schema version 11: every stored rollup state carries a version.

- ``rollups.version``: a token that changes with every write of the row's ``state`` (a random 62-bit
  number, so that a row deleted and made again never comes back with a version seen before). A
  collector process keeps the rollups it wrote in memory with the version it wrote
  (:class:`collector.hot_rollups.HotRollups`) and folds the next batch into that copy only while the
  stored version is still that one; a write by another process makes it read the state again.
  Rows written before this revision have version 0, which no process holds.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import BigInteger, Column, text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rollups", Column("version", BigInteger, nullable=False, server_default=text("0")))
    op.execute("UPDATE kv SET value = '11' WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        batch.drop_column("version")
    op.execute("UPDATE kv SET value = '10' WHERE key = 'schema_version'")
