"""Bounding the work per field: long texts are cut before they are masked."""

from __future__ import annotations

from contract.masking.normalize import CHECK_X_CHARS, SEPARATOR_CHARS, may_hide_digit

MAX_FIELD_CHARS = 8192
MARKER = "…[truncated {} chars]"
_MARKER_ROOM = 40  # the longest marker we could ever write, so the result stays within the limit
_NUMBER_CHARS = frozenset(SEPARATOR_CHARS + "%")


def _numberish(text: str, i: int) -> bool:
    """``text[i]`` is a digit, a separator, a check X right after a digit, or a character that
    reveal_digits reads as a digit or drops between digits (a number spelled with them is one run)."""
    ch = text[i]
    if ch.isdecimal() or ch in _NUMBER_CHARS or may_hide_digit(ch):
        return True
    return ch in CHECK_X_CHARS and i > 0 and (text[i - 1].isdecimal() or may_hide_digit(text[i - 1]))


def truncate(text: str, max_chars: int = MAX_FIELD_CHARS, total_chars: int | None = None) -> str:
    """``text`` if it fits in ``max_chars``, else its head and a marker, ``max_chars`` at most.

    The cut never splits a number: if it falls inside a run of digits and separators, the whole
    run goes (a cut ID would otherwise escape the detectors).  ``total_chars`` is the length of
    the original text when the caller already dropped its tail (stream reading).
    """
    total = len(text) if total_chars is None else total_chars
    if total <= max_chars:
        return text
    cut = max(0, max_chars - _MARKER_ROOM)
    if cut < len(text) and _numberish(text, cut):
        while cut > 0 and _numberish(text, cut - 1):
            cut -= 1
    return text[:cut] + MARKER.format(total - cut)
