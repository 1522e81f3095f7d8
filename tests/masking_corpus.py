"""A seeded corpus of texts that hold numbers, for differential tests of the masking detector.

Random and adversarial: valid and broken IDs (check X in every spelling, 15-digit legacy ones after a
keyword), phones with +86 / 0086 / 86, UnionPay and brand cards (Luhn right and wrong), credit codes,
28-digit transaction numbers, IDs back to back, digit runs of every length; written plain, grouped by
the patterns' groupings or at random with every separator, in full-width and other scripts' digits,
circled signs, percent escapes and invisible characters between digits, next to escapes, keywords,
letters and CJK text. The texts do not depend on the date they are made on, and none holds a digit
sequence that reads as a year from 2027 to 2100, so what masking makes of them stays the same until
then (an ID's birth year may not lie after the current year).
"""

from __future__ import annotations

import random
import re
import unicodedata

PROVINCES = ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
             "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"]
PERMITS = ["71", "81", "82", "83"]
SEPARATORS = [" ", "-", ".", "\u00a0", "\u3000", "\uff0e", "\u2010", "\u2013", "\u2014", "\u2212", "\uff0d", "+",
              "/", "_", "|", "\t", "%20", "\u2009", "\u202f", "\u2002"]
GROUPINGS = {
    18: [(6, 8, 4), (6, 4, 4, 4), (4, 4, 4, 4, 2), (3, 3, 4, 4, 4)], 15: [(6, 6, 3), (4, 6, 5)],
    11: [(3, 4, 4), (3, 8), (7, 4)], 13: [(5, 4, 4)], 16: [(4, 4, 4, 4)], 17: [(4, 4, 4, 4, 1)],
    19: [(4, 4, 4, 4, 3), (6, 13)], 14: [(4, 6, 4)],
}
CONTEXT = ["", "", "", "客户 ", "张三 ", "身份证 ", "身份证号：", "证件号码", "ID No.", "id_no=", "idcard:", "sfz",
           "公民号", "identity ", "手机 ", "卡号", "?q=", "&id=", "%E5%AE%A2", "%A", "%", "%2F", "\\u00", "\\u",
           "\\u4e2d", "\\x", "\\x3", "\\U0001", "%u", "%u00", "%U",
           "abc", "X", "x", "_", "统一社会信用代码：", "订单 ", "50%", "案件 CASE-", "电话:", "（", "）",
           "https://crm.example.com/search?q=", " - CRM", " - 催收系统", "的", "a", "F", "*", "**", "%3", "tel:",
           "交易单号 ", "ID", "id#", "身份证号码是", "Ｘ", "13", "8", "2026年", "v2.3 "]
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_FORMAT = ["\u200b", "\u00ad", "\ufeff", "\u2060", "\u200e", "\u20e3", "\ufe0f\u20e3", "\u0332"]
_SCRIPTS = [0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1D7CE]  # full-width, Arabic-Indic, ... math
_CIRCLED = ["⓪", *(chr(0x2460 + i) for i in range(9))]
_YEARS_AHEAD = re.compile(r"20(?:2[7-9]|[3-9]\d)|2100")
_PERCENT_DIGIT = re.compile(r"%3([0-9])")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("0123456789", k=n))


def id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2, computed the iterative way (the masker uses the weighted sum)."""
    p = 0
    for ch in first17:
        p = (p + int(ch)) * 2 % 11
    return "0123456789X"[(12 - p) % 11]


def luhn_complete(body: str) -> str:
    """``body`` plus the digit that makes it pass Luhn."""
    for d in "0123456789":
        digits = [int(c) for c in body + d][::-1]
        if (sum(digits[0::2]) + sum(sum(divmod(2 * x, 10)) for x in digits[1::2])) % 10 == 0:
            return body + d
    raise AssertionError("unreachable")


def _date(rng: random.Random, short: bool = False) -> str:
    year = rng.choice([rng.randint(1850, 2026), rng.randint(1940, 2010), rng.randint(1700, 1849)])
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    roll = rng.random()
    if roll < 0.08:
        month, day = rng.choice([(2, 29), (2, 30), (4, 31), (13, 1), (0, 5), (6, 0), (12, 31), (1, 31)])
    if short:
        return f"{year % 100:02d}{month:02d}{day:02d}"
    return f"{year:04d}{month:02d}{day:02d}"


def id18(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.7:
        area = rng.choice(PROVINCES) + _digits(rng, 4)
    elif roll < 0.8:
        area = rng.choice(PERMITS) + "0000"
    elif roll < 0.9:
        area = "9" + rng.choice(PROVINCES) + _digits(rng, 3)
    else:
        area = _digits(rng, 6)
    first17 = area + _date(rng) + _digits(rng, 3)
    good = id_check(first17)
    return first17 + (good if rng.random() < 0.75 else rng.choice("0123456789X"))


def id15(rng: random.Random) -> str:
    return rng.choice(PROVINCES) + _digits(rng, 4) + _date(rng, short=True) + _digits(rng, 3)


def phone(rng: random.Random) -> str:
    number = "1" + rng.choice("3456789" if rng.random() < 0.9 else "012") + _digits(rng, 9)
    return rng.choice(["", "", "", "+86", "+86 ", "0086", "0086-", "86", "86 ", "(+86)", "+86-"]) + number


def bank_card(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        body = "62" + _digits(rng, rng.choice([14, 15, 16, 17]) - 1)
        return body + str(rng.randrange(10)) if rng.random() < 0.5 else luhn_complete(body)
    prefix = rng.choice(["4", "51", "55", "2221", "2720", "34", "37", "35", "30", "36", "38", "60", "9"])
    body = prefix + _digits(rng, rng.randint(13, 19) - len(prefix) - 1)
    return luhn_complete(body) if rng.random() < 0.7 else body + str(rng.randrange(10))


def credit_code(rng: random.Random) -> str:
    org = rng.choice([_digits(rng, 9), "".join(rng.choices(_CREDIT_ALPHABET, k=9)), _digits(rng, 8) + "X",
                      "M" + _digits(rng, 8), _digits(rng, 3) + "M" + _digits(rng, 5)])
    body = rng.choice("159ANY") + rng.choice("1239") + rng.choice(PROVINCES) + _digits(rng, 4) + org
    total = sum(_CREDIT_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    check = _CREDIT_ALPHABET[(31 - total % 31) % 31]
    return body + (check if rng.random() < 0.8 else rng.choice(_CREDIT_ALPHABET))


def back_to_back(rng: random.Random) -> str:
    return "".join(id18(rng) for _ in range(rng.choice([2, 2, 3])))


def digit_run(rng: random.Random) -> str:
    return _digits(rng, rng.choice([rng.randint(1, 60), 28, 28, rng.randint(10, 20)]))


NUMBERS = [id18, id18, id18, id15, phone, phone, phone, bank_card, bank_card, credit_code, back_to_back,
           digit_run, digit_run]


def _group(rng: random.Random, number: str) -> str:
    """The number split into groups by one of the known groupings or at random, with separators."""
    roll = rng.random()
    if roll < 0.55 or len(number) < 4:
        return number
    if roll < 0.85 and len(number) in GROUPINGS:
        lengths = list(rng.choice(GROUPINGS[len(number)]))
    else:
        lengths, left = [], len(number)
        while left:
            lengths.append(min(left, rng.randint(1, 8)))
            left -= lengths[-1]
    seps = [rng.choice(SEPARATORS)] if rng.random() < 0.7 else SEPARATORS
    groups, pos = [], 0
    for n in lengths:
        groups.append(number[pos : pos + n])
        pos += n
    out = groups[0]
    for group in groups[1:]:
        out += (rng.choice(seps) * (2 if rng.random() < 0.05 else 1)) + group
    return out


def _spell(rng: random.Random, text: str) -> str:
    """Digits and X's spelled in other ways: other scripts, circled signs, escapes, invisible marks."""
    roll = rng.random()
    if roll < 0.5:
        return text
    mode = rng.choice(["script", "script", "mixed", "circled", "percent", "format", "x"])
    base = rng.choice(_SCRIPTS)
    out = []
    for ch in text:
        if ch.isdigit():
            if mode == "script" or (mode == "mixed" and rng.random() < 0.3):
                ch = chr(base + int(ch))
            elif mode == "circled" and rng.random() < 0.4:
                ch = _CIRCLED[int(ch)]
            elif mode == "percent" and rng.random() < 0.3:
                ch = f"%3{ch}"
            elif mode == "format" and rng.random() < 0.2:
                ch = rng.choice(_FORMAT) + ch
        elif ch == "X":
            ch = rng.choice("XxＸｘ") if mode in ("x", "script") else ch
        out.append(ch)
    return "".join(out)


def _read_digits(text: str) -> str:
    """Every digit the text may show to the masker, in order, as ASCII (a superset, to be safe)."""
    out = []
    for ch in _PERCENT_DIGIT.sub(r"\1", text):
        value = unicodedata.numeric(ch, -1.0)
        if 0 <= value <= 50 and value == int(value):
            out.append(str(int(value)))
    return "".join(out)


def text(rng: random.Random) -> str:
    """One text: a few numbers, each spelled and grouped in its own way, between context strings."""
    pieces = [rng.choice(CONTEXT)]
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 5])):
        number = rng.choice(NUMBERS)(rng)
        pieces.append(_spell(rng, _group(rng, number)))
        pieces.append(rng.choice(CONTEXT) if rng.random() < 0.7 else rng.choice(SEPARATORS))
    if rng.random() < 0.02:
        pieces.append("客户" * rng.randint(100, 5000))  # long texts, some cut by the field limit
        pieces.append(_group(rng, id18(rng)))
    return "".join(pieces)


def corpus(n: int, seed: int = 20261204) -> list[str]:
    """``n`` texts; a text showing a digit sequence that reads as a year from 2027 to 2100 is drawn again."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        candidate = text(rng)
        if not _YEARS_AHEAD.search(_read_digits(candidate)):
            out.append(candidate)
    return out
