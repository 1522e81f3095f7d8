"""Sample numbers for the masking tests and bench: valid ones and realistic look-alikes.

Check characters and Luhn digits are computed here independently of ``contract.masking`` so the
tests do not grade the masker with its own arithmetic.  The tests at the bottom pin the
generators to published examples.
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Callable

from tests.masking_corpus import id_check, luhn_complete

PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46]
PROVINCES += [50, 51, 52, 53, 54, 61, 62, 63, 64, 65]
PERMITS = [81, 82, 83]
CARD_BRANDS = [("4", 16), ("4", 19), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16)]
CARD_BRANDS += [("34", 15), ("37", 15), ("35", 16), ("30", 14), ("36", 14), ("38", 16)]
TODAY = datetime.date.today()


def luhn_valid(number: str) -> bool:
    return luhn_complete(number[:-1]) == number


def birth_date(rng: random.Random) -> datetime.date:
    start = datetime.date(1900, 1, 1).toordinal()
    return datetime.date.fromordinal(rng.randint(start, TODAY.toordinal()))


def make_id18(rng: random.Random) -> str:
    """A valid 18-character ID: resident ID, HK/Macau/Taiwan permit or foreign permanent ID."""
    roll = rng.random()
    if roll < 0.8:
        area = f"{rng.choice(PROVINCES)}{rng.randint(0, 9999):04d}"
    elif roll < 0.9:
        area = f"{rng.choice(PERMITS)}0000"
    else:
        area = f"9{rng.choice(PROVINCES)}{rng.randint(0, 999):03d}"
    first17 = f"{area}{birth_date(rng):%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_check(first17)


def make_id15(rng: random.Random) -> str:
    born = datetime.date.fromordinal(rng.randint(datetime.date(1900, 1, 1).toordinal(),
                                                 datetime.date(1999, 12, 31).toordinal()))
    return f"{rng.choice(PROVINCES)}{rng.randint(0, 9999):04d}{born:%y%m%d}{rng.randint(0, 999):03d}"


def make_phone(rng: random.Random) -> str:
    return f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}"


def make_card(rng: random.Random) -> str:
    """A UnionPay card (any last digit) or another brand's Luhn-valid card."""
    if rng.random() < 0.5:
        length = rng.choice([16, 19])
        return "62" + "".join(rng.choice("0123456789") for _ in range(length - 2))
    prefix, length = rng.choice(CARD_BRANDS)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


# --- realistic negatives, one generator per field type -------------------------------------

def _digits(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**n):0{n}d}"


def _ms(rng: random.Random) -> int:
    return rng.randint(1_600_000_000_000, int(datetime.datetime(TODAY.year, 12, 31).timestamp() * 1000))


def neg_timestamp(rng: random.Random) -> str:
    ms = _ms(rng)
    value = rng.choice([str(ms), str(ms // 1000), f"{ms}{rng.randint(0, 999):03d}"])
    shape = rng.choice(["{}", "ts={}", "/api/items?_={}", "IMG_{}.jpg", "upload-{}.tmp", "{}.log"])
    return shape.format(value)


def neg_snowflake(rng: random.Random) -> str:
    epoch, shift = rng.choice([(1288834974657, 22), (1420070400000, 22), (1577836800000, 22),
                               (1409529600000, 24)])  # Twitter, Discord, a 2020 epoch, Sonyflake
    elapsed = _ms(rng) - epoch
    if shift == 24:  # Sonyflake: 10 ms ticks, 8 bits sequence, 16 bits machine
        value = (elapsed // 10) << 24 | rng.randint(0, 255) << 16 | rng.randint(0, 65535)
    else:
        value = elapsed << 22 | rng.randint(0, 1023) << 12 | rng.randint(0, 4095)
    return rng.choice(["{}", "订单号：{}", "https://shop.example.com/order/{}", "msg_{}"]).format(value)


def neg_txn28(rng: random.Random) -> str:
    day = datetime.date.fromordinal(rng.randint(TODAY.toordinal() - 1000, TODAY.toordinal()))
    shape = rng.randrange(3)
    if shape == 0:
        value = f"4200{rng.randint(1000, 9999)}{day:%Y%m%d}{_digits(rng, 12)}"  # WeChat Pay
    elif shape == 1:
        value = f"{day:%Y%m%d}2200{_digits(rng, 16)}"  # Alipay
    else:
        value = _digits(rng, 28)
    return rng.choice(["{}", "交易单号 {}", "https://pay.example.com/q?transaction_id={}"]).format(value)


_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def neg_credit_code(rng: random.Random) -> str:
    """A unified social credit code (GB 32100-2015) with its real check character."""
    org = "".join(rng.choices(_CREDIT_ALPHABET[:10] if rng.random() < 0.3 else _CREDIT_ALPHABET, k=9))
    body = f"{rng.choice('159Y')}{rng.choice('1239')}{rng.choice(PROVINCES)}{rng.randint(0, 9999):04d}{org}"
    total = sum(_CREDIT_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    code = body + _CREDIT_ALPHABET[(31 - total % 31) % 31]
    return rng.choice(["{}", "统一社会信用代码：{}", "企业 {} 年报"]).format(code)


def neg_case_number(rng: random.Random) -> str:
    year = rng.randint(2000, TODAY.year)
    return rng.choice([
        f"CASE-{year}-{rng.randint(0, 999999):06d}",
        f"({year})京{rng.randint(100, 9999):04d}民初{rng.randint(1, 99999)}号",
        f"（{year}）沪0{rng.randint(100, 120)}执{rng.randint(1, 9999)}号",
        f"案件编号 AJ{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 9999999):07d}",
        f"工单 WO-{year}{rng.randint(0, 99999999):08d}",
    ])


def neg_amount(rng: random.Random) -> str:
    value = rng.randint(0, 10**rng.randint(2, 10)) / 100
    return rng.choice([f"¥{value:,.2f}", f"{value:.2f}元", f"金额: {value:.2f}", f"-{value:.2f}",
                       f"应还 {value:,.2f} 逾期 {rng.randint(1, 999)} 天", f"{value * 100:.0f}"])


def neg_datetime(rng: random.Random) -> str:
    moment = datetime.datetime.fromtimestamp(_ms(rng) / 1000)
    shape = rng.choice(["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.{ms}", "%Y%m%d%H%M%S", "%Y%m%d%H%M%S{ms}",
                        "%Y%m%d %H%M%S", "%Y-%m-%dT%H:%M:%S.{ms}+08:00", "%Y年%m月%d日 %H:%M", "%H:%M:%S",
                        "%Y.%m.%d"])
    return moment.strftime(shape).format(ms=f"{rng.randint(0, 999):03d}")


def neg_ip_version(rng: random.Random) -> str:
    shapes: list[Callable[[random.Random], str]] = [
        lambda r: ".".join(str(r.randint(0, 255)) for _ in range(4)),
        lambda r: f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(0, 255)}:{r.randint(1024, 65535)}",
        lambda r: f"10.0.{r.randint(10000, 26100)}.{r.randint(1, 9999)}",
        lambda r: f"Chrome/{r.randint(100, 140)}.0.{r.randint(1000, 7999)}.{r.randint(0, 300)}",
        lambda r: f"v{r.randint(0, 9)}.{r.randint(0, 99)}.{r.randint(0, 999)}-build.{r.randint(0, 99999999)}",
    ]
    return rng.choice(shapes)(rng)


def neg_bad_id18(rng: random.Random) -> str:
    """18 characters shaped like an ID but not one: wrong check character or impossible date."""
    province = rng.choice([p for p in PROVINCES if p != 62])  # 62...: a UnionPay card by rule
    area = f"{province}{rng.randint(0, 9999):04d}"
    order = f"{rng.randint(0, 999):03d}"
    if rng.random() < 0.5:
        first17 = f"{area}{birth_date(rng):%Y%m%d}{order}"
        good = id_check(first17)
        return first17 + rng.choice([c for c in "0123456789X" if c != good])
    year = rng.randint(1900, 2020)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    bad_date = rng.choice([f"{year}0230", f"{year}13{day:02d}", f"{year}{month:02d}00", f"{year}0431",
                           f"2{rng.randint(100, 999)}0101", f"17{rng.randint(0, 99):02d}0101"])  # before 1850
    first17 = f"{area}{bad_date}{order}"
    return first17 + id_check(first17)


def neg_landline(rng: random.Random) -> str:
    area = rng.choice(["010", "021", "0755", "0571", "028"])
    number = f"{rng.randint(2, 8)}{rng.randint(0, 9999999):07d}"
    hotline = f"400-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
    return rng.choice([f"{area}-{number}", f"{area}{number}", f"({area}){number}", hotline])


NEGATIVES: dict[str, Callable[[random.Random], str]] = {
    "timestamp": neg_timestamp,
    "snowflake": neg_snowflake,
    "txn28": neg_txn28,
    "credit_code": neg_credit_code,
    "case_number": neg_case_number,
    "amount": neg_amount,
    "datetime": neg_datetime,
    "ip_version": neg_ip_version,
    "bad_id18": neg_bad_id18,
    "landline": neg_landline,
}


def spec_positive(digits: str) -> bool:
    """A bare digit string that the rules *require* to be masked (rare collisions, e.g. a
    snowflake id that starts with 62 and has 16 or 19 digits is indistinguishable from a card)."""
    if len(digits) in (16, 19) and digits.startswith("62"):
        return True
    if len(digits) in (17, 18) and digits.startswith("62") and luhn_valid(digits):
        return True
    brand = any(digits.startswith(p) and len(digits) == n for p, n in CARD_BRANDS)
    return brand and luhn_valid(digits)


def negatives(kind: str, n: int, seed: int = 20261123) -> list[str]:
    """``n`` fields of one negative type; samples the rules require to mask are replaced."""
    rng = random.Random(f"{seed}:{kind}")
    make = NEGATIVES[kind]
    out: list[str] = []
    while len(out) < n:
        field = make(rng)
        if not any(spec_positive(run) for run in _digit_runs(field)):
            out.append(field)
    return out


def collisions(kind: str, n: int, seed: int = 20261123) -> int:
    """How many of ``n`` raw samples the rules require to mask (reported by the bench)."""
    rng = random.Random(f"{seed}:{kind}")
    return sum(any(spec_positive(r) for r in _digit_runs(NEGATIVES[kind](rng))) for _ in range(n))


def _digit_runs(text: str) -> list[str]:
    return _DIGIT_RUN.findall(text)


_DIGIT_RUN = re.compile(r"[0-9]+")


# --- the generators themselves ---------------------------------------------------------------

def test_id_check_matches_published_examples() -> None:
    assert id_check("11010519491231002") == "X"
    assert id_check("44030819990101123") == "4"


def test_luhn_matches_published_example() -> None:
    assert luhn_complete("411111111111111") == "4111111111111111"
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_generated_positives_have_their_shapes() -> None:
    rng = random.Random(1)
    for _ in range(1000):
        number = make_id18(rng)
        assert len(number) == 18 and id_check(number[:17]) == number[17]
        assert len(make_id15(rng)) == 15 and len(make_phone(rng)) == 11
        assert 13 <= len(make_card(rng)) <= 19


def test_bad_ids_really_are_bad() -> None:
    rng = random.Random(2)
    for _ in range(1000):
        number = neg_bad_id18(rng)
        try:
            real = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            continue
        assert not 1850 <= real.year <= TODAY.year or id_check(number[:17]) != number[17]
