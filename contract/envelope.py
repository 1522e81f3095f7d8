"""The envelope every v1 event carries (schema, agent_id, seq, ts, kind), without pydantic.

Kept apart from :mod:`contract.schema` so that the agent's running path (sensors, batch builder,
spool, uploader) stays light: it stamps envelopes but does not validate; the collector validates.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from contract.errors import InvalidEvent
from contract.kinds import KIND_NAMES

SCHEMA_VERSION = 1
KINDS = KIND_NAMES  # the catalog's (contract.kinds)
AGENT_ID_RE = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")  # \Z: no trailing newline accepted
# Event seq and batch_seq are counters; at a thousand events a second an agent would need three
# centuries to reach 10**10. Keeping them under 11 digits means a counter can never spell a phone,
# ID or card number, so they are stored and shown as the numbers they are, never masked.
MAX_SEQ = 10**10 - 1
HASH_RE = re.compile(r"\A[0-9a-f]{64}\Z")  # SHA-256, lowercase hex (prev_batch_hash, policy_hash)
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def parse_ts(value: Any) -> datetime:
    """Parse an RFC 3339 timestamp that carries a UTC offset; raise InvalidEvent otherwise."""
    if not isinstance(value, str) or not _TS_RE.match(value):
        raise InvalidEvent("field 'ts': must be an RFC 3339 timestamp with a UTC offset")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidEvent(f"field 'ts': not a real date or time ({exc})") from exc


def format_ts(moment: datetime) -> str:
    """RFC 3339, millisecond precision, keeping the moment's own offset (UTC when naive)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
