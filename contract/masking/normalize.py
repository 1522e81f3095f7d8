"""Character classes shared by the detectors, and digit normalisation.

A *digit* is any Unicode decimal digit (``\\d`` on ``str``): ASCII ``0-9``, full-width ``０-９`` and
the other scripts' digits; digit-like signs (circled ``①``, ``❶``, superscript ``¹``...) are read as
the digits of their value first (:func:`reveal_digits`).  A *check X* is ``X``, ``x``, ``Ｘ`` or
``ｘ``.  A *separator* is one character of :data:`SEPARATOR_CHARS` or the percent-encoded space
``%20``; numbers may have one to three separators between digit groups (``138 0013 8000``,
``6222-0212-3456-7890``, ``138 - 0013 - 8000``).
"""

from __future__ import annotations

import re
import unicodedata

CHECK_X_CHARS = "XxＸｘ"
# Spaces (space, no-break space, ideographic space and the other spaces of category Zs), hyphens, dashes,
# minus and full-width hyphen: what joins the groups of a phone written as people write it.
SPACES_AND_HYPHENS = (
    " \u00a0\u3000"
    "\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d"
)
SEPARATOR_CHARS = (
    SPACES_AND_HYPHENS
    + ".\uff0e"  # full stop, full-width full stop
    + "\u00b7\u30fb\uff65\u2027"  # middle dot, katakana middle dot (full and half width), hyphenation point
    + "+"  # form-encoded space in URLs
    + "/_|\t"  # slash, underscore, pipe, tab between digit groups
)

_SEP_CLASS = "[" + re.escape(SEPARATOR_CHARS) + "]"
SEPARATOR = rf"(?:{_SEP_CLASS}|%20)"
# Between two digit groups: one to three separators (``138 - 0013 - 8000``, two spaces).
MAX_SEPARATORS = 3
SEPARATORS = rf"(?:{SEPARATOR}){{1,{MAX_SEPARATORS}}}+"
_X_CLASS = "[" + CHECK_X_CHARS + "]"

# One digit run, its digits possibly interrupted by check X's (two IDs back to back, the first
# ending in X) and possibly ending in one.  Possessive quantifiers: no backtracking.
ATOMS = rf"\d++(?:{_X_CLASS}\d++)*+{_X_CLASS}?+"
# Digit runs joined by single separators.
CHUNK_RE = re.compile(rf"{ATOMS}(?:{SEPARATORS}{ATOMS})*+")
# Inside a chunk: an optional separator, then one digit run (the unit the detectors reason
# about) with an optional trailing check X.
ATOM_RE = re.compile(rf"({SEPARATORS})?+(\d++{_X_CLASS}?+)")
# Cheap necessary condition for any match: eleven digits with at most one separator between two.
MAYBE_NUMBER_RE = re.compile(rf"\d(?:(?:{SEPARATOR}){{0,{MAX_SEPARATORS}}}+\d){{10}}")
# Eleven digits anywhere: necessary for MAYBE_NUMBER_RE and several times cheaper to rule out (no
# backtracking: each \D*+ takes every non-digit before the next digit).
_ELEVEN_DIGITS_RE = re.compile(r"(?:\D*+\d){11}")


def may_hold_number(text: str) -> bool:
    """``MAYBE_NUMBER_RE.search(text) is not None``, answered without it when ``text`` has fewer than
    eleven digits."""
    return _ELEVEN_DIGITS_RE.match(text) is not None and MAYBE_NUMBER_RE.search(text) is not None

# Invisible format characters (Unicode category Cf: soft hyphen, zero-width space, word joiner,
# BOM, bidi controls, tags...) and combining marks between two digits are dropped before detection, and so are
# percent-encoded digits decoded (``%31%33%38...``): both hide a number from the eye of a regex only.
_FORMAT_CLASS = (
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    # and the combining marks that dress a digit up without hiding it from the eye (1̲ 1̶ 1⃣ 1️⃣: combining
    # diacritical marks, those for symbols such as the enclosing keycap, half marks, variation selectors)
    "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]"
)
# (also among the separators between two digit groups: 138\u200b \u200b0013; the separators stay)
_FORMAT_RE = re.compile(_FORMAT_CLASS)
_FORMAT_BETWEEN_DIGITS_RE = re.compile(
    rf"(?<=\d)(?:{_SEP_CLASS}|{_FORMAT_CLASS})*?{_FORMAT_CLASS}(?:{_SEP_CLASS}|{_FORMAT_CLASS})*+(?=[\d{CHECK_X_CHARS}])"
)


def _drop_format(m: re.Match[str]) -> str:
    return _FORMAT_RE.sub("", m.group())
# Percent-encoded digits, also encoded again (``%2531`` is ``%31`` escaped once more: a query string
# encoded twice), and twice-encoded separators: ``%2520`` reads as ``%20``, ``%2B`` (a form's space ``+``
# escaped again) as ``+``.
_PERCENT_DIGIT_RE = re.compile(r"%(?:25)*+3([0-9])")
_PERCENT_SEPARATOR_RE = re.compile(r"%(?:25)++20|%(?:25)*+2[Bb]")
# The UTF-8 of full-width digits and X, the ideographic and the no-break space, percent-encoded (once or
# more): a browser's URL for a search of １３８００１３８０００ holds %EF%BC%91%EF%BC%93...
_PERCENT_UTF8_RE = re.compile(
    r"%(?:25)*+EF%(?:25)*+BC%(?:25)*+(9[0-9]|B8)|%(?:25)*+EF%(?:25)*+BD%(?:25)*+98|%(?:25)*+(E3)%(?:25)*+80%(?:25)*+80"
    r"|%(?:25)*+C2%(?:25)*+A0",
    re.IGNORECASE,
)


def _may_hold_utf8_escape(text: str) -> bool:
    """A cheap necessary condition for :data:`_PERCENT_UTF8_RE` (its search costs a microsecond on a URL
    full of encoded Chinese; these substring tests a tenth of that)."""
    return (
        "%EF%B" in text or "%E3%80%80" in text or "%C2%A0" in text or "%25" in text
        or "%ef%b" in text or "%e3%80%80" in text or "%c2%a0" in text
    )


def _percent_separator(m: re.Match[str]) -> str:
    return "+" if m.group().endswith(("B", "b")) else "%20"


def _percent_utf8(m: re.Match[str]) -> str:
    low, ideographic = m.groups()
    if low is not None:
        return "X" if low.upper() == "B8" else low[1]
    if ideographic is not None:
        return "\u3000"
    return "X" if m.group().upper().endswith("98") else "\u00a0"


# HTML character references (``&#49;``, ``&#x31;``, ``&#0049``, ``&nbsp;``): those that stand for a digit,
# a check X, a separator or an invisible format character read as that character.
_NAMED_REFERENCES = {"nbsp": "\u00a0", "ensp": "\u2002", "emsp": "\u2003", "thinsp": "\u2009", "shy": "\u00ad",
                     "zwj": "\u200d", "zwnj": "\u200c", "lrm": "\u200e", "rlm": "\u200f", "hyphen": "\u2010",
                     "dash": "\u2010", "ndash": "\u2013", "mdash": "\u2014", "minus": "\u2212", "period": ".",
                     "sol": "/", "lowbar": "_", "verbar": "|", "plus": "+"}
_REFERENCE_RE = re.compile(
    r"&(?:amp;)*+(?:#(?:[xX]([0-9A-Fa-f]{1,6})|([0-9]{1,7}));?|(" + "|".join(_NAMED_REFERENCES) + r");)"
    # and JSON's \u escapes of the same characters, escaped again or not (\u0031, \\u0031)
    r"|\\++u([0-9A-Fa-f]{4})"
)

# Digit-like characters that are not decimal digits (Unicode category No with a whole value from 0 to
# 50): circled ①-⑳ ㉑-㊿ ⓪, negative circled ❶-➓ ⓫-⓴, parenthesized ⑴, with full stop ⒈ 🄁,
# superscript and subscript ¹ ₁, and the other scripts' number signs. Each reads as its value's
# ASCII digits (⑫ -> 12) before detection, so a number spelled with them is caught like any other.
_DIGIT_LIKE_RANGES = (
    (0xB2, 0xB3), (0xB9, 0xB9), (0x9F9, 0x9F9), (0xBF0, 0xBF0), (0xC78, 0xC7E), (0xD70, 0xD70),
    (0x1369, 0x1376), (0x17F0, 0x17F9), (0x19DA, 0x19DA), (0x2070, 0x2070), (0x2074, 0x2079),
    (0x2080, 0x2089), (0x215F, 0x215F), (0x2189, 0x2189), (0x2460, 0x249B), (0x24EA, 0x24FF),
    (0x2776, 0x2793), (0x3192, 0x3195), (0x3220, 0x3229), (0x3248, 0x324C), (0x3251, 0x325F),
    (0x3280, 0x3289), (0x32B1, 0x32BF), (0x1F100, 0x1F10C),
)


def _digit_like_table() -> dict[int, str]:
    table = {}
    for first, last in _DIGIT_LIKE_RANGES:
        for cp in range(first, last + 1):
            value = unicodedata.numeric(chr(cp), -1.0)
            if unicodedata.category(chr(cp)) == "No" and value == int(value) and 0 <= value <= 50:
                table[cp] = str(int(value))
    return table


DIGIT_LIKE = _digit_like_table()
_DIGIT_LIKE_CLASS = "".join(f"{chr(a)}-{chr(b)}" for a, b in _DIGIT_LIKE_RANGES)
# Anything reveal_digits may change outside ASCII: one search tells whether there is work to do.
_HIDDEN_RE = re.compile(f"{_FORMAT_CLASS[:-1]}{_DIGIT_LIKE_CLASS}]")


# Chinese numerals as a number is read out (〇/零 0, 一/幺 1 ... 九 9): eleven or more of them in a row, with
# separators as between digit groups, read as digits (一三八零零一三八零零零, 一三八 零零一三 八零零零). Not
# when a digit touches the run: read so, 13800138000零零零零 would hide the phone in a longer digit run.
# Shorter runs and numerals with 十, 百, 万... (dates, amounts, idioms) stay.
CJK_DIGITS = "〇零一幺二三四五六七八九"
_CJK_TABLE = str.maketrans({c: str(d) for c, d in zip(CJK_DIGITS, (0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9), strict=True)})
# starts with the class, so the search skips to the numerals; the digits around are checked after
_CJK_RUN_RE = re.compile(rf"[{CJK_DIGITS}](?:(?:{SEPARATOR}){{0,{MAX_SEPARATORS}}}+[{CJK_DIGITS}]){{10,}}+")


# What reveal_digits may change outside ASCII, Chinese numerals included: one search for the common case.
_HIDDEN_OR_CJK_RE = re.compile(f"{_FORMAT_CLASS[:-1]}{_DIGIT_LIKE_CLASS}{CJK_DIGITS}]")


def _cjk_alone(text: str, m: re.Match[str]) -> bool:
    start, end = m.span()
    return (start == 0 or not text[start - 1].isdecimal()) and (end == len(text) or not text[end].isdecimal())


def _cjk_numerals(text: str) -> bool:
    """``text`` holds a run of Chinese numerals that :func:`reveal_digits` reads as digits."""
    return any(_cjk_alone(text, m) for m in _CJK_RUN_RE.finditer(text))


def _read_cjk_numerals(text: str) -> str:
    pieces: list[str] = []
    pos = 0
    for m in _CJK_RUN_RE.finditer(text):
        if _cjk_alone(text, m):
            pieces += (text[pos : m.start()], m.group().translate(_CJK_TABLE))
            pos = m.end()
    return "".join(pieces) + text[pos:] if pieces else text


def _encoded_separator_or_reference(text: str) -> bool:
    """``text`` holds a digit or separator encoded twice or an HTML character reference that reveal_digits
    may read."""
    if "%2" in text and (
        _PERCENT_SEPARATOR_RE.search(text) is not None or ("%25" in text and _PERCENT_DIGIT_RE.search(text) is not None)
    ):
        return True
    if "%" in text and _may_hold_utf8_escape(text) and _PERCENT_UTF8_RE.search(text) is not None:
        return True
    return (
        ("&" in text and ("&#" in text or ";" in text)) or "\\u" in text
    ) and _REFERENCE_RE.search(text) is not None


def holds_no_number(text: str) -> bool:
    """True when :func:`reveal_digits` leaves ``text`` as it is and :func:`may_hold_number` says no: then no
    detector can find a number in it and masking returns it unchanged (one call and C-level searches, for
    the many texts of an event that hold no number)."""
    if "%3" in text or (("%" in text or "&" in text or "\\u" in text) and _encoded_separator_or_reference(text)):
        return False
    if text.isascii() or _HIDDEN_OR_CJK_RE.search(text) is None:
        return not may_hold_number(text)
    if _HIDDEN_RE.search(text) is not None or may_hold_number(text):
        return False
    return _CJK_RUN_RE.search(text) is None or not _cjk_numerals(text)


def may_hide_digit(ch: str) -> bool:
    """``ch`` is one of what :func:`reveal_digits` reads as a digit or drops between digits (a digit-like
    sign or an invisible format character)."""
    return not ch.isascii() and _HIDDEN_RE.match(ch) is not None


def _reference(m: re.Match[str]) -> str:
    hex_digits, decimal, name, json_hex = m.groups()
    if name is not None:
        return _NAMED_REFERENCES.get(name, m.group())
    if json_hex is not None:  # ASCII digits, check X, separators, format characters (\u2460 stays an escape)
        ch = chr(int(json_hex, 16))
        if "0" <= ch <= "9" or ch in CHECK_X_CHARS or ch in SEPARATOR_CHARS or _FORMAT_RE.match(ch) is not None:
            return ch
        return m.group()
    code = int(hex_digits, 16) if hex_digits is not None else int(decimal)
    if code > 0x10FFFF:
        return m.group()
    ch = chr(code)
    if ch.isdecimal() or ch in CHECK_X_CHARS or ch in SEPARATOR_CHARS or may_hide_digit(ch):
        return ch
    return m.group()


def reveal_digits(text: str, *, keep_glued: bool = False) -> str:
    """``text`` with HTML character references and JSON escapes of digits and separators read, digit-like
    characters and runs of Chinese numerals read as digits, format characters between digits removed and
    percent-encoded digits decoded.  ``keep_glued`` keeps the references that touch a plain digit as written
    (see :func:`glued_reference`)."""
    return _reveal(text, keep_glued)


def _touches_digit(m: re.Match[str]) -> bool:
    start, end = m.span()
    text = m.string
    return (start > 0 and text[start - 1].isdecimal()) or (end < len(text) and text[end].isdecimal())


def glued_reference(text: str) -> bool:
    """``text`` holds a reference to a digit that touches a plain digit: ``&#49;3800138000`` holds a phone read
    whole, ``&#49;13800138000`` one read with the reference apart (the masking tries both)."""
    if not (("&" in text and ("&#" in text or ";" in text)) or "\\u" in text):
        return False
    return any(_touches_digit(m) and _reference(m) != m.group() for m in _REFERENCE_RE.finditer(text))


def _reference_kept_glued(m: re.Match[str]) -> str:
    return m.group() if _touches_digit(m) else _reference(m)


def _reveal(text: str, keep_glued: bool) -> str:
    if (
        ("&" in text and ("&#" in text or ";" in text)) or "\\u" in text
    ) and _REFERENCE_RE.search(text) is not None:
        text = _REFERENCE_RE.sub(_reference_kept_glued if keep_glued else _reference, text)
    if not text.isascii() and _HIDDEN_OR_CJK_RE.search(text) is not None:  # none of them is ASCII
        if _HIDDEN_RE.search(text) is not None:
            text = text.translate(DIGIT_LIKE)
            text = _FORMAT_BETWEEN_DIGITS_RE.sub(_drop_format, text)
        if _CJK_RUN_RE.search(text) is not None:
            text = _read_cjk_numerals(text)
    if "%" in text:
        if _may_hold_utf8_escape(text) and _PERCENT_UTF8_RE.search(text) is not None:
            text = _PERCENT_UTF8_RE.sub(_percent_utf8, text)
        if "%3" in text or "%25" in text:
            text = _PERCENT_DIGIT_RE.sub(r"\1", text)
        if "%2" in text:
            text = _PERCENT_SEPARATOR_RE.sub(_percent_separator, text)
    return text


_HEX_LETTERS = frozenset("ABCDEFabcdef")
_HEX = frozenset("0123456789ABCDEFabcdef")
_HEX_ESCAPES = (("\\u", 4), ("\\x", 2), ("\\U", 8), ("%u", 4), ("%U", 4))  # the lead and its hex digits
_TO_ASCII = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "x": "X", "Ｘ": "X", "ｘ": "X"})


def ascii_number(chars: str) -> str:
    """Return ``chars`` (digits and check X's) as ASCII digits and upper-case ``X``."""
    out = chars.translate(_TO_ASCII)
    if out.isascii():
        return out
    return "".join(c if c.isascii() else str(unicodedata.decimal(c)) for c in out)


# What may stand right before the first digit that escape_digits_at counts: a percent sign, a hex letter
# or the last character of an escape's lead (not a digit: the digits before a chunk are in it). Before any
# other character it answers 0.
ESCAPE_ENDS = frozenset("%" + "".join(lead[-1] for lead, _ in _HEX_ESCAPES)) | _HEX_LETTERS


def escape_digits_at(text: str, start: int) -> int:
    """How many digits at ``text[start:]`` may belong to an escape that began before ``start``.

    Percent escapes (``%A2`` + ``110105...``), JSON ``\\uXXXX``, ``\\xXX`` and ``\\UXXXXXXXX`` escapes and
    JavaScript's ``%uXXXX`` end in hex digits that touch a number without being part of it.
    """
    if start >= 1 and text[start - 1] == "%":
        return 2
    if start >= 2 and text[start - 2] == "%" and text[start - 1] in _HEX_LETTERS:
        return 1
    before = text[max(0, start - 9) : start]
    if "\\" not in before and "%" not in before:  # the usual case: no escape can reach ``start``
        return 0
    for lead, hex_digits in _HEX_ESCAPES:
        for back in range(2, 2 + hex_digits):
            j = start - back
            if j < 0:
                break
            if text.startswith(lead, j) and all(c in _HEX for c in text[j + 2 : start]):
                return j + 2 + hex_digits - start
    return 0
