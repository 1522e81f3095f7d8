"""Masking of national ID, phone and bank card numbers (privacy rule 1).

Used by the endpoint agent (clipboard previews) and by the collector (every string at ingest);
it imports nothing beyond the standard library.

Output format.  Every number found keeps its last four characters (digits, or a final check X,
as written: full-width stays full-width); each of its other digits becomes one ASCII ``*``;
separators and everything around the number stay exactly as they were, so the length of the
text does not change::

    11010519491231002X        -> **************002X
    110105 19491231 002X      -> ****** ******** 002X
    1101 0519 4912 3100 2X    -> **** **** **** **00 2X
    138 0013 8000             -> *** **** 8000
    1380 013 8000             -> **** *** 8000
    138 00 13 80 00           -> *** ** ** 80 00
    +86 138-0013-8000         -> +86 ***-****-8000      (a country code stays)
    6222 0212 3456 7890       -> **** **** **** 7890
    客户１３８００１３８０００的  -> 客户*******８０００的    (full-width digits become * too)

What counts as a number: 18-character resident IDs and residence permits with a real birth date
and a valid check character (15-digit legacy IDs only after an ID keyword such as 身份证 or
``ID No.``); mainland mobile numbers (``1[3-9]`` + 9 digits, optional +86/0086/86); UnionPay cards
(16 or 19 digits from ``62``, any last digit; 17-18 digits with a valid Luhn digit) and 13-19
digit cards of the major brands with a valid Luhn digit.  Written whole or in the usual groupings
with one to three separators between groups; a phone also in any other grouping joined by spaces
or hyphens, an ID in any grouping.  A number is never a piece of a longer digit run.  Texts
longer than :data:`MAX_FIELD_CHARS` are cut first (never inside a run of digits) and end with
``…[truncated N chars]``, N the number of characters dropped; the result is at most
MAX_FIELD_CHARS long.  ``mask_text`` is idempotent and fails closed: if the detector
raises, every run of digits (separators allowed between them) keeps only its last four digits.

Exceptions: :class:`MaskingError` (see :mod:`contract.masking.errors`).
"""

from __future__ import annotations

from typing import Any, TextIO

from contract.masking.detect import BANK_CARD, ID_NUMBER, PHONE, Detector, Finding, NumberDetector
from contract.masking.engine import DEFAULT_ENGINE, MaskingEngine
from contract.masking.errors import MaskingError
from contract.masking.objects import mask_object
from contract.masking.stream import mask_lines
from contract.masking.truncate import MAX_FIELD_CHARS

__all__ = [
    "BANK_CARD",
    "DEFAULT_ENGINE",
    "ID_NUMBER",
    "MAX_FIELD_CHARS",
    "PHONE",
    "Detector",
    "Finding",
    "MaskingEngine",
    "MaskingError",
    "NumberDetector",
    "classify",
    "mask_obj",
    "mask_stream",
    "mask_text",
]


def mask_text(text: str, *, engine: MaskingEngine = DEFAULT_ENGINE) -> str:
    """``text`` with every ID, phone and bank card number masked to its last four characters."""
    return engine.mask_text(text)


def classify(text: str, *, engine: MaskingEngine = DEFAULT_ENGINE) -> dict[str, int]:
    """``{"id_number": n, "phone": n, "bank_card": n}``: the numbers in ``text`` (first 1 MiB)."""
    return engine.classify(text)


def mask_obj(obj: Any, *, engine: MaskingEngine = DEFAULT_ENGINE) -> Any:
    """A masked copy of a JSON-like value: strings at any depth, dict keys, long integers."""
    return mask_object(engine, obj)


def mask_stream(infile: TextIO, outfile: TextIO, *, engine: MaskingEngine = DEFAULT_ENGINE) -> int:
    """Mask one text per line from ``infile`` onto the same line of ``outfile``; return the count."""
    return mask_lines(engine, infile, outfile)
