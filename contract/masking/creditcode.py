"""Unified social credit codes (GB 32100-2015), which must stay readable.

A code is 18 characters: registration authority (``1-9``, ``A``, ``N`` or ``Y``), organisation
type (``1-9``), a 6-digit address code, a 9-character organisation code from ``0-9`` and ``A-Y``
without I, O, S, V, Z, and a mod-31 check character.  Its digit runs can look like a phone
(``13540232255M71947X``), so the detector leaves alone any number that lies inside a valid code.
A code must hold a letter before its last character (an 18-digit code, or one ending in X, is
read as a possible ID) and must not start inside a percent escape (``%A2...``).
"""

from __future__ import annotations

import re

from contract.masking.idcard import PROVINCES

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
CODE_RE = re.compile(
    r"(?<![0-9A-Za-z%])(?<!%[0-9A-Fa-f])[1-9ANY][1-9][0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])"
)


def is_credit_code(code: str) -> bool:
    """``code`` has the structure above and a valid check character."""
    if len(code) != 18 or code[:17].isdigit() or code[2:4] not in PROVINCES:
        return False
    total = sum(_VALUE[c] * w for c, w in zip(code[:17], _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31] == code[17]


def credit_code_spans(text: str) -> list[tuple[int, int]]:
    """The spans of the valid credit codes in ``text``."""
    return [m.span() for m in CODE_RE.finditer(text) if is_credit_code(m.group())]


def within_credit_code(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` lies inside one of the valid credit codes of ``text``.

    Only the 18 characters either side are searched.  A match of :data:`CODE_RE` is a whole run
    of 18 letters and digits, so no match there can hide another; a run cut short by the window's
    end would start after ``start``, and such a match is no answer.
    """
    m = CODE_RE.search(text, max(0, end - 18), start + 19)
    while m is not None:
        if m.start() <= start and end <= m.end() and is_credit_code(m.group()):
            return True
        m = CODE_RE.search(text, m.end(), start + 19)
    return False
