"""Bounding the work per field: long texts are cut before they are masked."""

from __future__ import annotations

import re

from contract.masking.normalize import CHECK_X_CHARS, CJK_DIGITS, SEPARATOR_CHARS, may_hide_digit

MAX_FIELD_CHARS = 8192
MARKER = "…[truncated {} chars]"
_MARKER_ROOM = 40  # the longest marker we could ever write, so the result stays within the limit
# separators, Chinese numerals, and what percent escapes and HTML character references of digits are made of
_NUMBER_CHARS = frozenset(SEPARATOR_CHARS + CJK_DIGITS + "%&#;")
# a named HTML reference (``&nbsp;``) or the start of one, ending where the text is cut
_NAMED_REFERENCE_RE = re.compile(r"&[A-Za-z]{0,7};?")


def _numberish(text: str, i: int) -> bool:
    """``text[i]`` is a digit, a separator, a check X right after a digit, a character that
    reveal_digits reads as a digit or drops between digits (a number spelled with them is one run), a
    Chinese numeral, or part of a percent escape or an HTML character reference."""
    ch = text[i]
    if ch.isdecimal() or ch in _NUMBER_CHARS or may_hide_digit(ch):
        return True
    if ch in "xX" and i > 0 and text[i - 1] == "#":  # &#x31;
        return True
    return ch in CHECK_X_CHARS and i > 0 and (text[i - 1].isdecimal() or may_hide_digit(text[i - 1]))


def _named_reference_start(text: str, end: int) -> int:
    """Where a named HTML reference that ends at ``end`` (or is cut there) begins, or -1."""
    amp = text.rfind("&", max(0, end - 9), end)
    return amp if amp >= 0 and _NAMED_REFERENCE_RE.fullmatch(text, amp, end) else -1


def _run_start(text: str, cut: int) -> int:
    """Where the run of digits, separators, escapes and references that ends at ``cut`` begins."""
    while cut > 0:
        if _numberish(text, cut - 1):
            cut -= 1
            continue
        amp = _named_reference_start(text, cut)
        if amp < 0:
            break
        cut = amp
    return cut


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
    if cut < len(text):
        amp = _named_reference_start(text, cut)
        if amp >= 0 or _numberish(text, cut):
            cut = _run_start(text, cut if amp < 0 else amp)
    return text[:cut] + MARKER.format(total - cut)
