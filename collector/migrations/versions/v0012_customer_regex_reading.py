"""Schema version 12: the customer URL patterns that revision 0010 took for globs keep their regex reading too.

Revision 0010 rewrote every stored ``customer_url_patterns`` entry written with ``*`` or ``?`` and none of
``\\ ( ) + { } ^ $ |`` into the regular expression of that glob, which matches the whole URL. Such a
pattern was also a valid regular expression, and the detectors (since the one policy table, the sensors
too) had searched it anywhere in the URL: ``/customers?/`` found ``https://crm/customers/7``, its glob
reading finds nothing (a silent loss of detection). A pattern without wildcard (``customer``) was kept
as a regular expression by 0010 and needs nothing.

Upgrading finds the policy version 0010 saved and the one before it; for each pattern 0010 converted
that is a valid regular expression, it puts that pattern back right after 0010's conversion in the
policy in force (when the conversion is still there and the pattern is not), so both readings match,
the glob's first (its group 1 is the customer). The result is saved as the next version, each addition
logged. Nothing is saved when nothing was lost, or when an admin removed the conversion since.
Downgrading removes the version this revision saved while it is still the newest.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
import time
from typing import Any

from alembic import op
from sqlalchemy import text

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

SAVED_BY = "migration 0012"
_M0010 = importlib.import_module("collector.migrations.versions.v0010_one_policy")


def _policy_hash(policy: dict[str, Any]) -> str:
    """``contract.signed_policy.policy_hash`` as of this revision."""
    text_form = json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text_form.encode()).hexdigest()


def lost_regexes(before: dict[str, Any]) -> dict[str, str]:
    """0010's conversion -> the pattern it replaced, for every converted pattern that was a regular expression."""
    out: dict[str, str] = {}
    patterns = before.get("customer_url_patterns")
    for p in patterns if isinstance(patterns, list) else []:
        if not isinstance(p, str) or not _M0010.is_glob(p):
            continue
        try:
            re.compile(p)
        except re.error:
            continue  # ("*/c/*" is no regular expression): only the glob's reading ever matched
        converted = _M0010.rewrite({"customer_url_patterns": [p]})[0]["customer_url_patterns"][0]
        out.setdefault(converted, p)
    return out


def restore(policy: dict[str, Any], lost: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The policy with each lost pattern back after its conversion, and one note per pattern put back."""
    patterns = policy.get("customer_url_patterns")
    if not isinstance(patterns, list):
        return policy, []
    out, notes = [], []
    for p in patterns:
        out.append(p)
        original = lost.get(p) if isinstance(p, str) else None
        if original is not None and original not in patterns:
            out.append(original)
            notes.append(f"customer_url_patterns: {original!r} searched as a regular expression again, "
                         f"after its glob reading {p!r}")
    return ({**policy, "customer_url_patterns": out}, notes) if notes else (policy, [])


def _body(raw: Any) -> dict[str, Any] | None:
    body = json.loads(raw) if raw else None
    return body if isinstance(body, dict) else None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(text("SELECT version, body, saved_by FROM policy_versions ORDER BY version")).all()
    by_version = {int(r[0]): r for r in rows}
    saved = [int(r[0]) for r in rows if r[2] == _M0010.SAVED_BY]
    newest = next((r for r in reversed(rows) if _body(r[1]) is not None), None)
    before = by_version.get(saved[-1] - 1) if saved else None
    lost = lost_regexes(_body(before[1]) or {}) if before is not None else {}
    if lost and newest is not None:
        version, body = int(newest[0]), _body(newest[1]) or {}
        policy, notes = restore(body, lost)
        for note in notes:
            log.warning("policy version %d: %s", version, note)
        if notes:
            top = max(by_version)
            policy = {**policy, "version": top + 1}
            conn.execute(text("INSERT INTO policy_versions (version, body, hash, saved_at, saved_by) "
                              "VALUES (:v, :b, :h, :a, :by)"),
                         {"v": top + 1, "b": json.dumps(policy, ensure_ascii=False), "h": _policy_hash(policy),
                          "a": time.time(), "by": SAVED_BY})
            log.warning("policy version %d saved as version %d with the regex readings 0010 dropped", version, top + 1)
    op.execute("UPDATE kv SET value = '12' WHERE key = 'schema_version'")


def downgrade() -> None:
    conn = op.get_bind()
    row = conn.execute(text("SELECT version, saved_by FROM policy_versions ORDER BY version DESC LIMIT 1")).first()
    if row is not None and row[1] == SAVED_BY:
        conn.execute(text("DELETE FROM policy_versions WHERE version = :v"), {"v": int(row[0])})
    op.execute("UPDATE kv SET value = '11' WHERE key = 'schema_version'")
