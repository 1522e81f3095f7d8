"""Event schema v1: the contract between agent, collector, tests and tools.

``validate_event`` turns one decoded JSON object into a normalised ``dict`` or raises
:class:`~agent.errors.InvalidEvent` with a reason a person can read. Both the agent (replay, sensors)
and the collector (ingest) use it, so the two sides can never disagree about what is valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.envelope import AGENT_ID_RE, KINDS, MAX_SEQ, SCHEMA_VERSION, format_ts, parse_ts
from contract.errors import InvalidEvent

MAX_STR = 65536

Text = Annotated[str, Field(max_length=MAX_STR)]
# Quantities are numbers, never personal data: range-checked here (implausible -> InvalidEvent, so the
# collector quarantines the event), never masked. The bounds are generous physical limits, not policy.
MAX_COUNT = MAX_SEQ         # pids, chars, counters, pixel sizes, queue depths: under 11 digits, like seq
MAX_SIZE = 2**53            # file sizes in bytes (exact in a JSON double): the one quantity of 11+ digits
MAX_SECONDS = 400 * 86400.0  # idle, handling and threshold durations
NonNegInt = Annotated[int, Field(ge=0, le=MAX_COUNT)]
NonNegFloat = Annotated[float, Field(ge=0, le=MAX_COUNT, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
ByteSize = Annotated[int, Field(ge=0, le=MAX_SIZE)]
QUANTITY_FIELDS = frozenset({
    "seq", "pid", "size", "chars", "w", "h", "threshold_s", "idle_s", "active_s", "wall_s", "spool_depth",
    "dropped_total", "cpu_pct", "rss_mb", "policy_version", "unsigned_answers", "collector_changes",
})


PolicyHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", min_length=64, max_length=64)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class AgentStart(_Fields):
    version: Text
    os: Text
    hostname: Text
    user: Text


class AgentStop(_Fields):
    reason: Text


class Heartbeat(_Fields):
    spool_depth: NonNegInt
    dropped_total: NonNegInt
    cpu_pct: NonNegFloat
    rss_mb: NonNegFloat
    # optional until every agent verifies signed answers (contract.signed_policy, contract.receipts)
    policy_version: NonNegInt | None = None
    policy_hash: PolicyHash | None = None
    unsigned_answers: NonNegInt | None = None
    collector_changes: NonNegInt | None = None  # starts with another collector URL or key than the one before
    insecure_transport: bool | None = None  # true only when allow_insecure_http lets it use http:// or no TLS checks


class AppFocus(_Fields):
    app: Text
    title: Text
    pid: NonNegInt


class PageOpen(_Fields):
    url: Text
    title: Text
    app: Text


class CopyClasses(_Fields):
    id_number: NonNegInt = 0
    phone: NonNegInt = 0
    bank_card: NonNegInt = 0


class ClipboardCopy(_Fields):
    app: Text
    title: Text
    trigger: Literal["hotkey", "menu", "unknown"]
    chars: NonNegInt
    classes: CopyClasses
    preview: Annotated[str, Field(max_length=64)] | None = None
    action: Literal["allowed", "cleared"]


class InputIdle(_Fields):
    threshold_s: Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]


class InputActive(_Fields):
    idle_s: Seconds


class CaseOpen(_Fields):
    case_id: Text
    app: Text
    title: Text


class CaseClose(_Fields):
    case_id: Text
    active_s: Seconds
    idle_s: Seconds
    wall_s: Seconds


class FileWrite(_Fields):
    path: Text
    op: Literal["created", "modified", "moved", "deleted"]
    size: ByteSize | None = None
    removable: bool
    dest_path: Text | None = None


class Device(_Fields):
    mountpoint: Text
    fs: Text
    label: Text
    removable: bool


class ProcessStart(_Fields):
    name: Text
    exe: Text
    pid: NonNegInt
    category: Literal["remote_access", "screen_capture", "messaging", "other"]


class Screenshot(_Fields):
    blob_id: Text
    reason: Text
    w: NonNegInt
    h: NonNegInt


KIND_MODELS: dict[str, type[_Fields]] = {
    "agent.start": AgentStart,
    "agent.stop": AgentStop,
    "agent.heartbeat": Heartbeat,
    "app.focus": AppFocus,
    "page.open": PageOpen,
    "clipboard.copy": ClipboardCopy,
    "input.idle": InputIdle,
    "input.active": InputActive,
    "case.open": CaseOpen,
    "case.close": CaseClose,
    "file.write": FileWrite,
    "device.mount": Device,
    "device.unmount": Device,
    "process.start": ProcessStart,
    "screenshot": Screenshot,
}
if frozenset(KIND_MODELS) != KINDS:  # the light envelope module and the models must agree
    raise RuntimeError("contract.envelope.KINDS and contract.schema.KIND_MODELS disagree")
ENVELOPE_KEYS = ("schema", "agent_id", "seq", "ts", "kind")


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(event)"
        parts.append(f"field '{loc}': {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def validate_event(obj: Any) -> dict[str, Any]:
    """Return a normalised copy of a v1 event or raise InvalidEvent with the reason."""
    return validate_event_at(obj)[0]


def validate_event_at(obj: Any) -> tuple[dict[str, Any], datetime]:
    """Like :func:`validate_event`, also returning the event's moment (saves parsing ts twice)."""
    if not isinstance(obj, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in ENVELOPE_KEYS if k not in obj]
    if missing:
        raise InvalidEvent(f"missing field(s): {', '.join(missing)}")
    if obj["schema"] != SCHEMA_VERSION or isinstance(obj["schema"], bool):
        raise InvalidEvent(f"field 'schema': unsupported version {obj['schema']!r} (expected 1)")
    agent_id = obj["agent_id"]
    if not isinstance(agent_id, str) or not AGENT_ID_RE.match(agent_id):
        raise InvalidEvent("field 'agent_id': must match [A-Za-z0-9._-]{1,64}")
    seq = obj["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise InvalidEvent(f"field 'seq': must be an integer from 1 to {MAX_SEQ}")
    moment = parse_ts(obj["ts"])
    kind = obj["kind"]
    model = KIND_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise InvalidEvent(f"field 'kind': unknown kind {str(kind)[:40]!r}")
    fields = {k: v for k, v in obj.items() if k not in ENVELOPE_KEYS}
    try:
        parsed = model.model_validate(fields)
    except ValidationError as exc:
        raise InvalidEvent(f"{kind}: {_describe(exc)}") from exc
    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "agent_id": agent_id,
        "seq": seq,
        "ts": format_ts(moment),
        "kind": kind,
    }
    out.update(parsed.model_dump(exclude_none=True))
    return out, moment


def event_time(event: dict[str, Any]) -> datetime:
    """The aware datetime of a validated event."""
    return parse_ts(event["ts"])
