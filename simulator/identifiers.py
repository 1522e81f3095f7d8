"""Made-up customer identifiers: national ID numbers with a valid GB 11643 check digit, mobile phone
numbers, CRM customer and case numbers, and the masked forms the CRM and the agent show."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

_AREAS = (
    "110105",
    "110108",
    "120104",
    "310104",
    "310115",
    "320106",
    "320583",
    "330106",
    "340104",
    "350203",
    "370202",
    "410105",
    "420106",
    "430104",
    "440106",
    "440305",
    "500103",
    "510107",
    "610113",
    "210102",
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_MOBILE = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "182",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)
_SURNAMES = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "林",
    "罗",
    "高",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "韩",
    "冯",
    "邓",
    "曹",
    "欧阳",
)


def check_digit(first17: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits of an ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_national_id(text: str) -> bool:
    """True for an 18-character ID number whose check character is right."""
    return len(text) == 18 and text[:17].isdigit() and check_digit(text[:17]) == text[17]


def national_id(rng: Random) -> str:
    born = f"{rng.randint(1962, 2003)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    head = f"{rng.choice(_AREAS)}{born}{rng.randint(10, 999):03d}"
    return head + check_digit(head)


def mobile(rng: Random) -> str:
    return f"{rng.choice(_MOBILE)}{rng.randrange(10**8):08d}"


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id(number: str) -> str:
    return "*" * 14 + number[-4:]


def case_id(rng: Random, year: int) -> str:
    return f"C-{year}-{rng.randrange(10**7):07d}"


@dataclass(frozen=True, slots=True)
class Customer:
    """One borrower as the CRM shows them: a masked name, plus the raw numbers behind it."""

    cid: str
    name: str
    phone: str
    id_number: str

    @classmethod
    def make(cls, rng: Random) -> Customer:
        surname = rng.choice(_SURNAMES)
        return cls(
            cid=str(rng.randrange(1_000_000, 9_999_999)),
            name=surname + "*" * rng.choice((1, 2, 2)),
            phone=mobile(rng),
            id_number=national_id(rng),
        )
