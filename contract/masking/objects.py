"""Masking JSON-like values: every string at any depth, dict keys too, and long integers."""

from __future__ import annotations

import math
from typing import Any

from contract.masking.engine import MaskingEngine
from contract.masking.errors import MaskingError
from contract.masking.fallback import conservative_mask
from contract.masking.idcard import ID_KEYWORD_RE

MAX_DEPTH = 256
_LONG_INT = 10**10  # integers of 11 digits or more may be phone, card or ID numbers
_FLOAT_EXACT = 10**15


def _mask_number(engine: MaskingEngine, value: int, id_hint: bool) -> int | str:
    text = str(value)
    masked = engine.mask_text(text, id_hint=id_hint)
    return value if masked == text else masked


def _mask_fraction(engine: MaskingEngine, value: float, id_hint: bool) -> float | str:
    # A non-integral float's integer part may still be a phone or ID number (13800138000.25).
    # Beyond 15 digits a float has no fraction left and its digits are only a rounded number:
    # those are never quantities, so every digit but the last four goes.
    whole = str(int(value))
    masked = engine.mask_text(whole, id_hint=id_hint)
    if abs(value) >= _FLOAT_EXACT:
        return conservative_mask(whole) if masked == whole else masked
    if masked == whole:
        return value
    return masked + repr(abs(value) % 1)[1:]


def _mask(engine: MaskingEngine, obj: Any, id_hint: bool, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise MaskingError(f"value nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, str):
        return engine.mask_text(obj, id_hint=id_hint)
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return _mask_number(engine, obj, id_hint) if abs(obj) >= _LONG_INT else obj
    if isinstance(obj, float):
        if math.isfinite(obj) and obj.is_integer() and abs(obj) >= _LONG_INT:
            masked = _mask_number(engine, int(obj), id_hint)
            if abs(obj) >= _FLOAT_EXACT and isinstance(masked, int):
                return _mask_fraction(engine, obj, id_hint)
            return obj if isinstance(masked, int) else masked
        if math.isfinite(obj) and abs(obj) >= _LONG_INT:
            return _mask_fraction(engine, obj, id_hint)
        return obj
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise MaskingError(f"dict keys must be str, got {type(key).__name__}")
            hint = ID_KEYWORD_RE.search(key) is not None
            out[engine.mask_text(key)] = _mask(engine, value, hint, depth + 1)
        return out
    if isinstance(obj, list | tuple):
        return [_mask(engine, item, id_hint, depth + 1) for item in obj]
    raise MaskingError(f"cannot mask a value of type {type(obj).__name__}")


def mask_object(engine: MaskingEngine, obj: Any) -> Any:
    """A copy of ``obj`` (dict/list/str/int/float/bool/None) with every number masked.

    Integers (and integral floats) of 11 digits or more that hold a number become masked strings;
    other integers stay integers.  A value under a key that names an ID (``id_no``, ``身份证``)
    is read as if the keyword came right before it.
    """
    return _mask(engine, obj, False, 0)
