"""Chinese mobile numbers: ``1[3-9]`` and nine more digits, optionally after +86 / 0086 / 86."""

from __future__ import annotations

COUNTRY_PREFIXES = ("86", "0086")


def is_mobile(number: str) -> bool:
    """``number`` (ASCII digits) is an 11-digit mainland mobile number."""
    return len(number) == 11 and number[0] == "1" and number[1] in "3456789" and number.isdigit()
