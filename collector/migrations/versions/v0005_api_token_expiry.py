"""Schema version 5: API tokens expire (``api_tokens.expires_at``).

Tokens made before this revision get a lifetime from the moment of the upgrade (90 days, the default
of ``api_token_days``), so that scripts keep working while the admin replaces them; a token without
an ``expires_at`` is never accepted. Downgrading drops the column: a 0004 collector ignores expiry.
"""

from __future__ import annotations

import time

from alembic import op
from sqlalchemy import Column, Float, text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GRACE_S = 90 * 86400.0  # frozen here: the default lifetime when this revision was written


def upgrade() -> None:
    op.add_column("api_tokens", Column("expires_at", Float, nullable=True))
    op.get_bind().execute(text("UPDATE api_tokens SET expires_at = :at WHERE expires_at IS NULL"),
                          {"at": time.time() + GRACE_S})
    op.execute("UPDATE kv SET value = '5' WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    op.execute("UPDATE kv SET value = '4' WHERE key = 'schema_version'")
