"""Schema version 10: the stored policy in the one reading of ``contract.policy``.

Before this revision the agent's sensors and the detectors read some keys of the same policy
differently. Upgrading saves the policy in force again, as the next version, rewritten into the
reading both sides now share (earlier versions stay as they were handed out; their hashes are what
agents reported):

- ``customer_url_patterns`` are regular expressions. A pattern written as a glob (``*`` or ``?`` and
  none of ``\\ ( ) + { } ^ $ |``), which is how the sensors read it, becomes the regular expression
  matching the same URLs (whole URL, case-insensitive; its first ``*`` is group 1, the customer). Any
  other pattern already was the detectors' regular expression and stays; each decision is logged.
- ``remote_access_apps`` and ``screen_capture_apps`` (the detectors' name prefixes) are no keys any
  more: each name ``x`` becomes the glob ``x*`` in ``process_categories`` (added to that category's
  stored globs, or to its defaults as of this revision).

Nothing is saved when the policy in force needs no rewrite. Downgrading removes the version this
revision saved while it is still the newest (a policy saved after it stays).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import time
from typing import Any

from alembic import op
from sqlalchemy import text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

SAVED_BY = "migration 0010"
_REGEX_ONLY = set("\\()+{}^$|")
_MOVED = {"remote_access_apps": "remote_access", "screen_capture_apps": "screen_capture"}
# ``contract.policy``'s default globs of these categories as of this revision (frozen: a migration never changes)
_DEFAULT_CATEGORIES = {
    "remote_access": [
        "anydesk*", "teamviewer*", "rustdesk*", "*vnc*", "ammyy*", "aa_v3*", "ultraviewer*", "sunlogin*",
        "todesk*", "screenconnect*", "connectwise*", "splashtop*", "parsec*", "remoting_host*", "remotepc*",
        "supremo*", "logmein*", "dwagent*", "meshagent*", "mstsc*",
    ],
    "screen_capture": [
        "obs", "obs64*", "obs32*", "obs-studio*", "bandicam*", "bdcam*", "evcapture*", "camtasia*", "sharex*",
        "snagit*", "screenrec*", "simplescreenrecorder*", "kazam*", "vokoscreen*", "recordmydesktop*",
        "screencapture", "screenpresso*", "flashback*", "loom*",
    ],
}


def _policy_hash(policy: dict[str, Any]) -> str:
    """``contract.signed_policy.policy_hash`` as of this revision."""
    text_form = json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text_form.encode()).hexdigest()


def is_glob(pattern: str) -> bool:
    """Written as the sensors' glob: a wildcard and none of a regular expression's own signs."""
    return any(c in pattern for c in "*?") and not (_REGEX_ONLY & set(pattern))


def _class_end(pattern: str, start: int) -> int | None:
    """Where the glob's bracket class opened at ``start`` closes, as fnmatch reads it ("]" first, or
    after "!", is a member); None when it never closes (the "[" is then a plain character)."""
    j = start + 1
    if j < len(pattern) and pattern[j] == "!":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    end = pattern.find("]", j)
    return None if end < 0 else end


def glob_to_regex(pattern: str) -> str:
    """The regular expression matching the URLs the case-insensitive glob matched; its first ``*`` is group 1."""
    out, i, captured = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*" if captured else "(.*)")
            captured = True
        elif c == "?":
            out.append(".")
        elif c == "[" and (end := _class_end(pattern, i)) is not None:
            body = pattern[i + 1:end].replace("\\", "\\\\")
            body = re.sub(r"([&~|])", r"\\\1", body)  # no set operations of a later Python
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith(("^", "[")):  # a member, as fnmatch reads it
                body = "\\" + body
            out.append("[" + body + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "(?i)^" + "".join(out) + "$"


def rewrite(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The policy in the one reading, and what changed (one line each, for the log)."""
    policy, notes = dict(body), []
    patterns = policy.get("customer_url_patterns")
    if isinstance(patterns, list):
        rewritten = []
        for p in patterns:
            if isinstance(p, str) and is_glob(p):
                rx = glob_to_regex(p)
                try:
                    re.compile(rx)
                except re.error:  # a class this reading cannot carry over ("[z-a]"): fnmatch's own
                    rx = "(?i)" + fnmatch.translate(p)
                rewritten.append(rx)
                notes.append(f"customer_url_patterns: glob {p!r} -> regular expression {rewritten[-1]!r}")
            else:
                rewritten.append(p)
                notes.append(f"customer_url_patterns: {p!r} kept as a regular expression (not written as a glob)")
        policy["customer_url_patterns"] = rewritten
    categories = policy.get("process_categories")
    categories = {str(k): list(v) for k, v in categories.items() if isinstance(v, list)} \
        if isinstance(categories, dict) else {}
    moved = False
    for key, category in _MOVED.items():
        if key not in policy:
            continue
        names = policy.pop(key)
        globs = [f"{n.strip().lower()}*" for n in names if isinstance(n, str) and n.strip()] \
            if isinstance(names, list) else []
        base = categories.get(category, _DEFAULT_CATEGORIES[category])
        categories[category] = list(dict.fromkeys([*base, *globs]))
        moved = True
        notes.append(f"{key}: name prefixes {names!r} -> process_categories.{category} globs {globs!r}")
    if moved:
        policy["process_categories"] = categories
    return policy, notes


def upgrade() -> None:
    conn = op.get_bind()
    row = conn.execute(text("SELECT version, body FROM policy_versions ORDER BY version DESC LIMIT 1")).first()
    if row is not None:
        version, raw = int(row[0]), row[1]
        body = json.loads(raw) if raw else None
        if not isinstance(body, dict):
            log.warning("policy version %d has no stored text: nothing to rewrite", version)
        else:
            policy, notes = rewrite(body)
            if policy != body:
                policy["version"] = version + 1
                conn.execute(text("INSERT INTO policy_versions (version, body, hash, saved_at, saved_by) "
                                  "VALUES (:v, :b, :h, :a, :by)"),
                             {"v": version + 1, "b": json.dumps(policy, ensure_ascii=False),
                              "h": _policy_hash(policy), "a": time.time(), "by": SAVED_BY})
            for note in notes:
                log.warning("policy version %d: %s", version, note)
            if policy != body:
                log.warning("policy version %d saved as version %d in the one reading", version, version + 1)
    op.execute("UPDATE kv SET value = '10' WHERE key = 'schema_version'")


def downgrade() -> None:
    conn = op.get_bind()
    row = conn.execute(text("SELECT version, saved_by FROM policy_versions ORDER BY version DESC LIMIT 1")).first()
    if row is not None and row[1] == SAVED_BY:
        conn.execute(text("DELETE FROM policy_versions WHERE version = :v"), {"v": int(row[0])})
    op.execute("UPDATE kv SET value = '9' WHERE key = 'schema_version'")
