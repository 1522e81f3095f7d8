"""Bank card numbers.

UnionPay cards starting with ``62`` count whatever their Luhn digit when they have 16 or 19
digits (the lengths banks issue); at 17 or 18 digits they must pass Luhn, because 18-digit
``62...`` numbers are mostly something else (Gansu ID numbers with a typo, snowflake-style order
ids issued in 2024-2026, whose values run through 62xxxxxxxxxxxxxxxx).  Other
numbers count only when they start with a real card IIN prefix, have a length that brand
issues, *and* pass the Luhn check: a random 16-digit id passes Luhn one time in ten, so Luhn
alone would mask too many order numbers, and brand lengths keep 17- and 18-digit numbers that
start like a province code (41 Henan, 51 Sichuan, 35 Fujian...) from being taken for cards.
"""

from __future__ import annotations

_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)

# (lowest prefix, highest prefix, card lengths); prefixes are compared as strings of equal length.
BRANDS: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("35", "35", frozenset({16, 19})),  # JCB
    ("30", "30", frozenset({14, 16})),  # Diners Club
    ("36", "36", frozenset({14, 16})),
    ("38", "38", frozenset({14, 16})),
)


# Each digit as the Luhn check counts it in an even place from the right (doubled, digits summed).
_DOUBLED = str.maketrans("0123456789", "".join(str(d) for d in _LUHN_DOUBLE))


def luhn_ok(number: str) -> bool:
    """``number`` (ASCII digits) passes the Luhn mod-10 check."""
    total = sum(map(int, number[-1::-2])) + sum(map(int, number[-2::-2].translate(_DOUBLED)))
    return total % 10 == 0


# The card lengths of the brands whose prefix a number's first four digits match (no prefix is
# longer), filled as starts are met: at most 10,000 entries.
_LENGTHS_BY_START: dict[str, frozenset[int]] = {}


def _brand_length_ok(number: str) -> bool:
    start = number[:4]
    lengths = _LENGTHS_BY_START.get(start)
    if lengths is None:
        lengths = frozenset().union(*(ls for low, high, ls in BRANDS if low <= start[: len(low)] <= high))
        if len(_LENGTHS_BY_START) < 10_000:
            _LENGTHS_BY_START[start] = lengths
    return len(number) in lengths


def is_card(number: str) -> bool:
    """``number`` (ASCII digits) is a bank card number under the rules above."""
    if not 13 <= len(number) <= 19 or not number.isdigit():
        return False
    if number.startswith("62") and len(number) >= 16:
        return len(number) in (16, 19) or luhn_ok(number)
    return _brand_length_ok(number) and luhn_ok(number)
