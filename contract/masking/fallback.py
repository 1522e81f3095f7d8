"""The fail-closed mask, used when the detectors raise.

Every digit run (digits joined by single separators, with any X right after a digit) keeps its
last four characters; every other digit becomes ``*``.  It over-masks dates, amounts and
timestamps, which is the point: it is only used when the precise engine failed.
"""

from __future__ import annotations

import re

from contract.masking.normalize import CHECK_X_CHARS, SEPARATORS

_RUN_RE = re.compile(rf"\d[\d{CHECK_X_CHARS}]*+(?:{SEPARATORS}\d[\d{CHECK_X_CHARS}]*+)*+")
_KEEP = 4


def _mask_run(m: re.Match[str]) -> str:
    run = m.group(0)
    kept = 0
    out = []
    for ch in reversed(run):
        if ch.isdecimal() or ch in CHECK_X_CHARS:
            out.append(ch if kept < _KEEP else "*")
            kept += 1
        else:
            out.append(ch)
    return "".join(reversed(out))


def conservative_mask(text: str) -> str:
    """``text`` with every digit but the last four of each digit run replaced by ``*``."""
    return _RUN_RE.sub(_mask_run, text)
