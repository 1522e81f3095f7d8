"""Event validation on the ingest hot path: the schema's rules without building a model per event.

:func:`validate_event_at` returns exactly what :func:`contract.schema.validate_event_at` returns, and
raises the same :class:`~contract.errors.InvalidEvent` with the same reason (quarantine reasons do not
change), at a fraction of the cost. The checks are compiled once, at import, from the schema's own
pydantic models (:data:`contract.schema.KIND_MODELS`): their field types, bounds, lengths, patterns,
defaults and field order. They decide only the plain case: every value of exactly its JSON type,
within its bounds, no field missing or unknown. Anything else (a number given as a string, a float
for an integer, an unknown field, a value out of bounds, an unsupported annotation in a future model)
goes through the pydantic model, which then accepts with its own coercions or refuses with its own
reason. So the fast path can only ever agree with the models; ``tests/test_ingest_validation_fast.py``
checks that it does, on valid events and on mutations of them.
"""

from __future__ import annotations

import logging
import math
import re
import types
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.types import AllowInfNan

from contract import schema
from contract.envelope import AGENT_ID_RE, MAX_SEQ, SCHEMA_VERSION, format_ts, parse_ts
from contract.errors import InvalidEvent

log = logging.getLogger(__name__)
_FAIL: Any = object()  # "not the plain case": ask the model
Check = Callable[[Any], Any]  # a value -> its normalised form, or _FAIL
_ENVELOPE = frozenset(schema.ENVELOPE_KEYS)
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone surrogate: no valid unicode, the model refuses it
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Unsupported(Exception):
    """An annotation or constraint this module does not compile (its kind always takes the model)."""


def _constraints(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, FieldInfo):
            if item.alias or item.default_factory is not None or item.validation_alias:
                raise Unsupported(f"field info {item!r}")
            out.update(_constraints(list(item.metadata)))
        elif isinstance(item, at.Ge):
            out["ge"] = item.ge
        elif isinstance(item, at.Gt):
            out["gt"] = item.gt
        elif isinstance(item, at.Le):
            out["le"] = item.le
        elif isinstance(item, at.Lt):
            out["lt"] = item.lt
        elif isinstance(item, at.MaxLen):
            out["max_length"] = item.max_length
        elif isinstance(item, at.MinLen):
            out["min_length"] = item.min_length
        elif isinstance(item, AllowInfNan):
            out["allow_inf_nan"] = item.allow_inf_nan
        elif type(item).__name__ == "_PydanticGeneralMetadata" and set(vars(item)) <= {"pattern"}:
            out["pattern"] = vars(item)["pattern"]
        else:
            raise Unsupported(f"constraint {item!r}")
    return out


def _bounded(c: dict[str, Any]) -> Callable[[float], bool]:
    ge, gt, le, lt = c.get("ge"), c.get("gt"), c.get("le"), c.get("lt")
    if gt is None and lt is None:  # the usual [ge, le]
        lo, hi = -math.inf if ge is None else ge, math.inf if le is None else le
        return lambda v: lo <= v <= hi
    return lambda v: ((ge is None or v >= ge) and (gt is None or v > gt) and (le is None or v <= le)
                      and (lt is None or v < lt))


def _compile(ann: Any, meta: list[Any]) -> Check:
    origin = get_origin(ann)
    if origin is Annotated:
        base, *extra = get_args(ann)
        return _compile(base, [*meta, *extra])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) != 1 or len(get_args(ann)) != 2 or meta:
            raise Unsupported(f"union {ann!r}")
        inner = _compile(args[0], [])
        return lambda v: None if v is None else inner(v)
    c = _constraints(meta)
    if origin is Literal:
        choices = frozenset(get_args(ann))
        if c or not all(type(x) is str for x in choices):
            raise Unsupported(f"literal {ann!r}")
        return lambda v: v if type(v) is str and v in choices else _FAIL
    if ann is str:
        if set(c) - {"max_length", "min_length", "pattern"}:
            raise Unsupported(f"str constraints {c}")
        hi, lo = c.get("max_length", math.inf), c.get("min_length", 0)
        pattern = re.compile(c["pattern"]) if "pattern" in c else None

        def text(v: Any) -> Any:
            if type(v) is not str or not lo <= len(v) <= hi:
                return _FAIL
            if not v.isascii() and _SURROGATE.search(v) is not None:
                return _FAIL
            if pattern is not None and ("\n" in v or pattern.search(v) is None):  # "$" differs only at "\n"
                return _FAIL
            return v
        return text
    if ann is bool:
        if c:
            raise Unsupported(f"bool constraints {c}")
        return lambda v: v if type(v) is bool else _FAIL
    if ann is int:
        if set(c) - {"ge", "gt", "le", "lt"}:
            raise Unsupported(f"int constraints {c}")
        inside = _bounded(c)
        return lambda v: v if type(v) is int and inside(v) else _FAIL
    if ann is float:
        if set(c) - {"ge", "gt", "le", "lt", "allow_inf_nan"} or c.get("allow_inf_nan", True):
            raise Unsupported(f"float constraints {c}")  # only finite floats are compiled
        inside = _bounded(c)

        def number(v: Any) -> Any:
            if type(v) is int and -(2**53) <= v <= 2**53:
                v = float(v)  # the model's lax mode turns an integer into a float
            return v if type(v) is float and math.isfinite(v) and inside(v) else _FAIL
        return number
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        if c:
            raise Unsupported(f"model constraints {c}")
        fields = _model(ann)
        return lambda v: fields(v) if type(v) is dict else _FAIL
    raise Unsupported(f"annotation {ann!r}")


def _model(model: type[BaseModel], beside: frozenset[str] = frozenset()) -> Callable[[dict[str, Any]], Any]:
    """The plain-case check of a model's fields: its ``model_dump(exclude_none=True)``, or _FAIL. Keys of
    ``beside`` (an event's envelope) may be in the object too; they are not the model's and are left out."""
    cfg = model.model_config
    decorators = model.__pydantic_decorators__
    if cfg.get("extra") != "forbid" or cfg.get("strict") or cfg.get("populate_by_name") or any(
            (decorators.validators, decorators.field_validators, decorators.root_validators,
             decorators.model_validators, decorators.field_serializers, decorators.model_serializers,
             decorators.computed_fields)):
        raise Unsupported(f"model {model.__name__} config or validators")
    specs: list[tuple[str, Check, bool, Any]] = []
    for name, info in model.model_fields.items():
        if info.alias or info.default_factory is not None or info.validation_alias or info.serialization_alias:
            raise Unsupported(f"{model.__name__}.{name}: alias or default factory")
        default = None if info.is_required() else info.default
        if default is not None and type(default) not in (int, float, str, bool):
            raise Unsupported(f"{model.__name__}.{name}: default {default!r}")
        specs.append((name, _compile(info.annotation, list(info.metadata)), info.is_required(), default))
    names = frozenset(n for n, *_ in specs)
    if names & beside:
        raise Unsupported(f"model {model.__name__} has a field named like an envelope key")
    allowed = names | beside

    def check(obj: dict[str, Any]) -> Any:
        if not allowed.issuperset(obj):
            return _FAIL  # an unknown field: the model names it
        out: dict[str, Any] = {}
        for name, field_check, required, default in specs:
            if name in obj:
                value = field_check(obj[name])
                if value is _FAIL:
                    return _FAIL
                if value is not None:
                    out[name] = value
            elif required:
                return _FAIL
            elif default is not None:
                out[name] = default
        return out
    return check


def _compile_kinds() -> dict[str, Callable[[dict[str, Any]], Any]]:
    out = {}
    for kind, model in schema.KIND_MODELS.items():
        try:
            out[kind] = _model(model, _ENVELOPE)  # checked on the whole event: no copy without the envelope
        except Unsupported as exc:  # that kind is validated by its model alone (correct, slower)
            log.warning("event kind %s has no fast validation (%s)", kind, exc)
    return out


FAST_KINDS = _compile_kinds()


def validate_event_at(obj: Any) -> tuple[dict[str, Any], datetime]:
    """:func:`contract.schema.validate_event_at`, fast for plain valid events (see the module docstring)."""
    if type(obj) is dict:
        kind = obj.get("kind")
        check = FAST_KINDS.get(kind) if type(kind) is str else None
        agent_id, seq, ts = obj.get("agent_id"), obj.get("seq"), obj.get("ts")
        if (check is not None and type(obj.get("schema")) is int and obj["schema"] == SCHEMA_VERSION
                and type(agent_id) is str and AGENT_ID_RE.match(agent_id) is not None
                and type(seq) is int and 1 <= seq <= MAX_SEQ and type(ts) is str):
            try:
                moment = parse_ts(ts)
            except InvalidEvent:
                return schema.validate_event_at(obj)  # the same refusal, in the model's words
            fields = check(obj)
            if fields is not _FAIL:
                out: dict[str, Any] = {"schema": SCHEMA_VERSION, "agent_id": agent_id, "seq": seq,
                                       "ts": format_ts(moment), "kind": kind}
                out.update(fields)
                return out, moment
    return schema.validate_event_at(obj)


def validate_event_s(obj: Any, agent_id: str) -> tuple[dict[str, Any], float, bool]:
    """:func:`validate_event_at` for ingest, where the event's moment is wanted in POSIX seconds: the
    event, ``moment.timestamp()``, and whether the returned ``ts`` reads back to exactly that moment (it
    does unless the agent sent digits below the millisecond, which the stored ``ts`` drops).

    ``agent_id`` is the batch's own (already checked): an event that names it needs no pattern match.
    A ``ts`` already in the canonical form (see :func:`plain_ts_ms`) is read without building a
    datetime; any other goes through :func:`validate_event_at`, so the answer is always the same."""
    if type(obj) is dict:
        kind = obj.get("kind")
        check = FAST_KINDS.get(kind) if type(kind) is str else None
        seq, ts = obj.get("seq"), obj.get("ts")
        if (check is not None and type(ts) is str and type(seq) is int and 1 <= seq <= MAX_SEQ
                and type(obj.get("schema")) is int and obj["schema"] == SCHEMA_VERSION
                and obj.get("agent_id") == agent_id and type(obj["agent_id"]) is str):
            ms = plain_ts_ms(ts)
            if ms is not None:
                fields = check(obj)
                if fields is not _FAIL:
                    out: dict[str, Any] = {"schema": SCHEMA_VERSION, "agent_id": agent_id, "seq": seq, "ts": ts,
                                           "kind": kind}
                    out.update(fields)
                    return out, ms / 1000, True
    event, moment = validate_event_at(obj)
    return event, moment.timestamp(), moment.microsecond % 1000 == 0


_MINUTE_MS: dict[str, int | None] = {}  # date, hour, minute and offset of a canonical ts -> its POSIX ms
_MAX_MINUTES = 8192


def plain_ts_ms(ts: str) -> int | None:
    """POSIX milliseconds of ``ts`` when it is in the canonical form :func:`format_ts` writes
    (``2026-11-23T09:15:02.123+08:00``, or ``...Z`` for UTC) and valid, read without a datetime; None
    for anything else (the caller then parses it the slow way, which accepts or refuses it).

    The date, hour, minute and offset are checked and converted once per distinct minute (by
    :func:`parse_ts`); seconds and milliseconds by their characters. The value is the moment's exact
    count of milliseconds, so ``ms / 1000`` is the same float as ``parse_ts(ts).timestamp()``."""
    n = len(ts)
    if n == 29:
        key = ts[:16] + ts[23:]
    elif n == 24 and ts[23] == "Z":
        key = ts[:16]
    else:
        return None
    low = ts[17:19] + ts[20:23]  # seconds and milliseconds: "SSmmm" is their count of milliseconds
    if ts[16] != ":" or ts[19] != "." or not low.isdigit() or not low.isascii() or low[0] > "5":
        return None
    base = _MINUTE_MS.get(key, -1)
    if base == -1:
        base = _minute_ms(ts[:16], ts[23:])
        if len(_MINUTE_MS) >= _MAX_MINUTES:
            _MINUTE_MS.clear()
        _MINUTE_MS[key] = base
    return None if base is None else base + int(low)


def _minute_ms(date_minute: str, offset: str) -> int | None:
    """POSIX milliseconds of ``date_minute`` (``YYYY-MM-DDTHH:MM``) at ``offset`` (canonical: Z, or
    ``+HH:MM`` other than UTC), or None when that is not a valid canonical moment."""
    text = f"{date_minute}:00.000{offset}"
    try:
        moment = parse_ts(text)
    except InvalidEvent:
        return None
    if format_ts(moment) != text:  # not as format_ts writes it (+00:00 is Z, +08:60 is +09:00, ...)
        return None
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
