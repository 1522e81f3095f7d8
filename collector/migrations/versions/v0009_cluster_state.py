"""Schema version 9: state that several collector processes share, kept in the database.

- ``policy_versions``: every policy version ever saved, one row each (``body`` JSON, its ``hash`` as
  agents report it, ``saved_at``, ``saved_by``). The newest row is the policy in force; the rows are
  also the record of every version handed out (what ``kv.policy_issued`` held). The primary key on
  ``version`` is the compare-and-set: two saves based on the same version cannot both land.
- ``job_runs``: one row per run of a scheduled job (daily report, retention, silence check, alert
  retries): when it started and finished, which process (host, pid) ran it and the outcome.
- ``job_leases``: on backends without advisory locks (SQLite), the lease a process holds while it
  runs a job.

Upgrading moves ``kv.policy`` and ``kv.policy_issued`` into ``policy_versions``; downgrading writes the
newest version and the issued record back into ``kv``.
"""

from __future__ import annotations

import hashlib
import json
import time

from alembic import op
from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Text, text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _kv(key: str) -> object:
    raw = op.get_bind().execute(text("SELECT value FROM kv WHERE key = :k"), {"k": key}).scalar()
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("body", Text, nullable=False),
        Column("hash", String(64), nullable=False),
        Column("saved_at", Float, nullable=False),
        Column("saved_by", String(64)),
    )
    op.create_table(
        "job_runs",
        Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
        Column("job", String(64), nullable=False),
        Column("started", Float, nullable=False),
        Column("finished", Float),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("detail", Text),
        Index("ix_job_runs_job_started", "job", "started"),
    )
    op.create_table(
        "job_leases",
        Column("job", String(64), primary_key=True),
        Column("holder", String(255), nullable=False),
        Column("expires", Float, nullable=False),
    )
    _move_policy_out_of_kv()
    op.execute("UPDATE kv SET value = '9' WHERE key = 'schema_version'")


def _policy_hash(policy: dict[str, object]) -> str:
    """``contract.signed_policy.policy_hash`` as of this revision (frozen here: a migration never changes)."""
    text_form = json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text_form.encode()).hexdigest()


def _move_policy_out_of_kv() -> None:
    conn = op.get_bind()
    policy, issued = _kv("policy"), _kv("policy_issued")
    rows: dict[int, dict[str, object]] = {}
    if isinstance(issued, dict):
        for v, rec in issued.items():
            if str(v).isdigit() and isinstance(rec, dict) and "hash" in rec:
                # a version handed out whose text is gone: its hash is all the signed-answer checks need
                rows[int(v)] = {"body": "null", "hash": str(rec["hash"]), "at": float(rec.get("at", 0.0))}
    if isinstance(policy, dict):
        version = int(policy.get("version", 1))
        at = rows.get(version, {}).get("at", time.time())
        rows[version] = {"body": json.dumps(policy, ensure_ascii=False), "hash": _policy_hash(policy), "at": at}
    for version, row in sorted(rows.items()):
        conn.execute(text("INSERT INTO policy_versions (version, body, hash, saved_at, saved_by) "
                          "VALUES (:v, :b, :h, :a, NULL)"),
                     {"v": version, "b": row["body"], "h": row["hash"], "a": row["at"]})
    conn.execute(text("DELETE FROM kv WHERE key IN ('policy', 'policy_issued')"))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(text("SELECT version, body, hash, saved_at FROM policy_versions ORDER BY version")).all()
    issued = {str(v): {"hash": h, "at": float(at)} for v, _b, h, at in rows}
    newest = next((b for _v, b, _h, _at in reversed(rows) if b != "null"), None)
    for key, value in (("policy", newest), ("policy_issued", json.dumps(issued) if rows else None)):
        if value is not None:
            conn.execute(text("DELETE FROM kv WHERE key = :k"), {"k": key})
            conn.execute(text("INSERT INTO kv (key, value) VALUES (:k, :v)"), {"k": key, "v": value})
    op.drop_table("job_leases")
    op.drop_index("ix_job_runs_job_started", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_table("policy_versions")
    op.execute("UPDATE kv SET value = '8' WHERE key = 'schema_version'")
