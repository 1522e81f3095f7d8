"""Event schema v1: the contract between agent, collector, tests and tools.

The kinds and their fields are the catalog's (:mod:`contract.kinds`); this module turns each into a
pydantic model with the range checks of its field types.

``validate_event`` turns one decoded JSON object into a normalised ``dict`` or raises
:class:`~contract.errors.InvalidEvent` with a reason a person can read. Both the agent (replay, sensors)
and the collector (ingest) use it, so the two sides can never disagree about what is valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from contract import kinds
from contract.envelope import AGENT_ID_RE, KINDS, MAX_SEQ, SCHEMA_VERSION, format_ts, parse_ts  # noqa: F401 (KINDS re-exported)
from contract.errors import InvalidEvent
from contract.kinds import FIELD_TYPES, FieldSpec, Kind

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
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
Preview = Annotated[str, Field(max_length=64)]
PolicyHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", min_length=64, max_length=64)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class CopyClasses(_Fields):
    id_number: NonNegInt = 0
    phone: NonNegInt = 0
    bank_card: NonNegInt = 0


# The pydantic type of each catalog field type (contract.kinds.FIELD_TYPES)
FIELD_TYPE: dict[str, Any] = {
    "text": Text, "preview": Preview, "count": NonNegInt, "size": ByteSize, "seconds": Seconds,
    "positive_seconds": PositiveSeconds, "amount": NonNegFloat, "bool": bool, "hash": PolicyHash,
    "classes": CopyClasses,
}
if set(FIELD_TYPE) | {"choice"} != FIELD_TYPES:
    raise RuntimeError("contract.schema.FIELD_TYPE and contract.kinds.FIELD_TYPES disagree")


def _annotation(spec: FieldSpec) -> Any:
    if spec.type == "choice":
        return Literal.__getitem__(spec.choices)
    return FIELD_TYPE[spec.type]


def _model(kind: Kind) -> type[_Fields]:
    """The fields model of one catalog kind: every field typed, optional ones default to absent."""
    definitions: dict[str, Any] = {}
    for spec in kind.fields:
        annotation = _annotation(spec)
        definitions[spec.name] = (annotation | None, None) if spec.optional else (annotation, ...)
    name = "".join(part.capitalize() for part in kind.name.replace(".", "_").split("_"))
    return create_model(name, __base__=_Fields, **definitions)


QUANTITY_FIELDS = kinds.QUANTITY_FIELDS
KIND_MODELS: dict[str, type[_Fields]] = {kind.name: _model(kind) for kind in kinds.CATALOG}
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
