"""Mainland resident ID numbers (GB 11643-1999) and the permits that share their form.

18 characters: 6-digit address code, ``YYYYMMDD`` birth date, 3-digit order, ISO 7064 MOD 11-2
check character.  Address codes 81/82/83 are Hong Kong / Macau / Taiwan residence permits; a
leading ``9`` is a foreign permanent resident ID (the two digits after it are the province).
Legacy IDs have 15 digits (``YYMMDD`` birth date in the 1900s, no check character).
"""

from __future__ import annotations

import datetime
import re

# Province-level codes: mainland, Taiwan (71), and HK / Macau / Taiwan residence permits.
MAINLAND_PROVINCES = frozenset(
    str(code)
    for code in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37)
    + (41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65)
)
PROVINCES = MAINLAND_PROVINCES | {"71", "81", "82", "83"}

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Words that announce an ID number; a legacy 15-digit ID is recognised only after one of them.
ID_KEYWORD_RE = re.compile(
    r"身份|证件|sfz|id[\s_.\-]?(?:no|num|card|#|号)|identity|公民号",
    re.IGNORECASE,
)
KEYWORD_WINDOW = 20
# GB 11643's own example, 440524188001010014, was born in 1880.
EARLIEST_BIRTH_YEAR = 1850


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) == 17 and first17.isascii() and first17.isdigit():
        # The weights are 2**(17 - i) mod 11, and 13 is 2 mod 11: read in base 13, the digits sum to half of it.
        return _CHECK_CHARS[2 * int(first17, 13) % 11]
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def valid_date(year: int, month: int, day: int) -> bool:
    """A real calendar date between 1850-01-01 and the end of the current year."""
    if not EARLIEST_BIRTH_YEAR <= year <= datetime.date.today().year or not 1 <= month <= 12:
        return False
    if month == 2 and day == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _DAYS[month - 1]


def _province(number: str) -> bool:
    if number[0] == "9":
        return number[1:3] in MAINLAND_PROVINCES
    return number[:2] in PROVINCES


def is_id18(number: str, keyword_near: bool = False) -> bool:
    """``number`` (17 ASCII digits and a digit or ``X``) is a valid 18-character ID.

    Next to an ID keyword a wrong check character is forgiven (a typo is still an ID), and so is
    an implausible birth date when the check character is right.
    """
    if len(number) != 18 or not number[:17].isdigit() or not _province(number):
        return False
    if check_char(number[:17]) == number[17]:
        return keyword_near or valid_date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    return keyword_near and valid_date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def is_id15(number: str) -> bool:
    """``number`` has the form of a legacy 15-digit ID (the caller checks for a keyword)."""
    if len(number) != 15 or not number.isdigit() or number[:2] not in PROVINCES:
        return False
    return valid_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))


def keyword_before(text: str, start: int) -> bool:
    """An ID keyword ends within :data:`KEYWORD_WINDOW` characters before ``start``."""
    return ID_KEYWORD_RE.search(text, max(0, start - KEYWORD_WINDOW - 8), start) is not None
