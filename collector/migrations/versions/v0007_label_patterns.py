"""Schema version 7: a review label keeps the finding it judged apart from the reviewer's note.

- ``labels.snapshot`` (JSON): the finding as the reviewer saw it: score, rules, rule features' values and
  its pattern (``{"rules": [...], "features": ["pages_without_case+", ...]}``), which later days are
  matched against (``detectors.feedback``).
- ``labels.pattern``: the pattern as one canonical text (``detectors.feedback.Pattern.key``), readable
  in the database and in exports without parsing the snapshot.
- ``labels.note``: only the reviewer's note. Until now the note column held the whole snapshot as JSON
  with the note inside; upgrading moves such a snapshot into ``snapshot`` and keeps its note in
  ``note``. Labels given before patterns existed have no ``pattern``: their snapshot's rules stand in.

Downgrading folds the note back into the snapshot JSON in ``note`` (what revision 6 read) and drops the
new columns.
"""

from __future__ import annotations

import json

from alembic import op
from sqlalchemy import Column, Connection, Text, text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _split(conn: Connection) -> None:
    rows = conn.execute(text("SELECT agent_id, day, note FROM labels WHERE note LIKE '{%'")).all()
    for agent_id, day, note in rows:
        try:
            snapshot = json.loads(note)
        except ValueError:
            continue  # a reviewer's note that only starts with a brace: leave it as written
        if not isinstance(snapshot, dict):
            continue
        own = str(snapshot.pop("note", "") or "")
        conn.execute(text("UPDATE labels SET snapshot = :s, note = :n WHERE agent_id = :a AND day = :d"),
                     {"s": json.dumps(snapshot, ensure_ascii=False), "n": own, "a": agent_id, "d": day})


def _fold(conn: Connection) -> None:
    rows = conn.execute(text("SELECT agent_id, day, note, snapshot FROM labels WHERE snapshot IS NOT NULL")).all()
    for agent_id, day, note, raw in rows:
        try:
            snapshot = json.loads(raw)
        except ValueError:
            snapshot = {}
        snapshot = snapshot if isinstance(snapshot, dict) else {}
        snapshot.pop("pattern", None)
        snapshot["note"] = note or ""
        conn.execute(text("UPDATE labels SET note = :n WHERE agent_id = :a AND day = :d"),
                     {"n": json.dumps(snapshot, ensure_ascii=False), "a": agent_id, "d": day})


def upgrade() -> None:
    op.add_column("labels", Column("snapshot", Text, nullable=True))
    op.add_column("labels", Column("pattern", Text, nullable=True))
    _split(op.get_bind())
    op.execute("UPDATE kv SET value = '7' WHERE key = 'schema_version'")


def downgrade() -> None:
    _fold(op.get_bind())
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("pattern")
        batch.drop_column("snapshot")
    op.execute("UPDATE kv SET value = '6' WHERE key = 'schema_version'")
