"""Schema version 4: agent_id look-alikes are caught by a unique key; a token may name its agent_id.

- ``agents.id_key``: the agent_id's comparison key (NFKC, format characters removed, case-folded),
  under a unique index, so that a look-alike of an enrolled id is refused in one lookup and two
  look-alikes enrolling at once cannot both succeed. Existing agents get their key here; should two
  of them already look alike, the later-enrolled one keeps a key of its own (``key|agent_id``,
  ``|`` never being part of an id) and both go on working.
- ``enroll_tokens.name``: the agent_id an admin named on the token (``enroll-token --name``), binding
  on the enrollment that uses it.

The key function is frozen here, as every revision's definitions must be. Downgrading drops both.
"""

from __future__ import annotations

import unicodedata

from alembic import op
from sqlalchemy import Column, String, text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _key(agent_id: str) -> str:
    normal = unicodedata.normalize("NFKC", agent_id)
    return "".join(ch for ch in normal if unicodedata.category(ch) != "Cf").casefold()


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("agents", Column("id_key", String(160), nullable=True))
    op.add_column("enroll_tokens", Column("name", String(64), nullable=True))
    seen: set[str] = set()
    rows = bind.execute(text("SELECT agent_id FROM agents ORDER BY enrolled_at, agent_id")).all()
    for (agent_id,) in rows:
        key = _key(str(agent_id))
        if key in seen:
            key = f"{key}|{agent_id}"
        seen.add(key)
        bind.execute(text("UPDATE agents SET id_key = :k WHERE agent_id = :a"), {"k": key, "a": agent_id})
    op.create_index("uq_agents_id_key", "agents", ["id_key"], unique=True)
    op.execute("UPDATE kv SET value = '4' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("uq_agents_id_key", table_name="agents")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("id_key")
    with op.batch_alter_table("enroll_tokens") as batch:
        batch.drop_column("name")
    op.execute("UPDATE kv SET value = '3' WHERE key = 'schema_version'")
