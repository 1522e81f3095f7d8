"""Character classes shared by the detectors, and digit normalisation.

A *digit* is any Unicode decimal digit (``\\d`` on ``str``): ASCII ``0-9``, full-width ``０-９`` and
the other scripts' digits.  A *check X* is ``X``, ``x``, ``Ｘ`` or ``ｘ``.  A *separator* is one
character of :data:`SEPARATOR_CHARS` or the percent-encoded space ``%20``; numbers may have one
separator between digit groups (``138 0013 8000``, ``6222-0212-3456-7890``).
"""

from __future__ import annotations

import re
import unicodedata

CHECK_X_CHARS = "XxＸｘ"
SEPARATOR_CHARS = (
    " \u00a0\u3000"  # space, no-break space, ideographic space
    ".\uff0e"  # full stop, full-width full stop
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d"  # hyphens, dashes, minus, full-width hyphen
    "+"  # form-encoded space in URLs
    "/_|\t"  # slash, underscore, pipe, tab between digit groups
)

_SEP_CLASS = "[" + re.escape(SEPARATOR_CHARS) + "]"
SEPARATOR = rf"(?:{_SEP_CLASS}|%20)"
_X_CLASS = "[" + CHECK_X_CHARS + "]"

# One digit run, its digits possibly interrupted by check X's (two IDs back to back, the first
# ending in X) and possibly ending in one.  Possessive quantifiers: no backtracking.
ATOMS = rf"\d++(?:{_X_CLASS}\d++)*+{_X_CLASS}?+"
# Digit runs joined by single separators.
CHUNK_RE = re.compile(rf"{ATOMS}(?:{SEPARATOR}{ATOMS})*+")
# Inside a chunk: an optional separator, then one digit run (the unit the detectors reason
# about) with an optional trailing check X.
ATOM_RE = re.compile(rf"({SEPARATOR})?+(\d++{_X_CLASS}?+)")
# Cheap necessary condition for any match: eleven digits with at most one separator between two.
MAYBE_NUMBER_RE = re.compile(rf"\d(?:{SEPARATOR}?\d){{10}}")

# Invisible format characters (Unicode category Cf: soft hyphen, zero-width space, word joiner,
# BOM, bidi controls, tags...) between two digits are dropped before detection, and so are
# percent-encoded digits decoded (``%31%33%38...``): both hide a number from the eye of a regex only.
_FORMAT_CLASS = (
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_FORMAT_RE = re.compile(_FORMAT_CLASS)
_FORMAT_BETWEEN_DIGITS_RE = re.compile(rf"(?<=\d){_FORMAT_CLASS}+(?=[\d{CHECK_X_CHARS}])")
_PERCENT_DIGIT_RE = re.compile(r"%3([0-9])")


def reveal_digits(text: str) -> str:
    """``text`` with format characters between digits removed and percent-encoded digits decoded."""
    if not text.isascii() and _FORMAT_RE.search(text) is not None:  # every Cf is outside ASCII
        text = _FORMAT_BETWEEN_DIGITS_RE.sub("", text)
    if "%3" in text:
        text = _PERCENT_DIGIT_RE.sub(r"\1", text)
    return text


_HEX_LETTERS = frozenset("ABCDEFabcdef")
_HEX = frozenset("0123456789ABCDEFabcdef")
_TO_ASCII = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "x": "X", "Ｘ": "X", "ｘ": "X"})


def ascii_number(chars: str) -> str:
    """Return ``chars`` (digits and check X's) as ASCII digits and upper-case ``X``."""
    out = chars.translate(_TO_ASCII)
    if out.isascii():
        return out
    return "".join(c if c.isascii() else str(unicodedata.decimal(c)) for c in out)


def escape_digits_at(text: str, start: int) -> int:
    """How many digits at ``text[start:]`` may belong to an escape that began before ``start``.

    Percent escapes (``%A2`` + ``110105...``) and JSON ``\\uXXXX`` escapes end in hex digits that
    touch a number without being part of it.
    """
    if start >= 1 and text[start - 1] == "%":
        return 2
    if start >= 2 and text[start - 2] == "%" and text[start - 1] in _HEX_LETTERS:
        return 1
    for back in range(2, 6):
        j = start - back
        if j < 0:
            break
        if text[j] == "\\" and text[j + 1] == "u" and all(c in _HEX for c in text[j + 2 : start]):
            return j + 6 - start
    return 0
