"""Numbers written in groupings other than the usual ones, encoded twice in URLs, or spelled with HTML
character references: each sample's raw digits are gone and its last four are kept; ordinary text that
looks a little like them stays as it is."""

from __future__ import annotations

import pytest

from contract.masking import MAX_FIELD_CHARS, classify, mask_text
from contract.masking.normalize import reveal_digits

PHONE = "13800138000"
ID18 = "11010519491231002X"
GB_EXAMPLE = "440524188001010014"


def _digits(text: str) -> str:
    """The digits and check X's of ``text`` in ASCII (the separator ``%20`` holds none)."""
    text = text.replace("%20", " ")
    return "".join(str(int(c)) if c.isdecimal() else "X" for c in text if c.isdecimal() or c in "XxＸｘ")


def _assert_masked(text: str, number: str) -> None:
    output = mask_text(text)
    digits = _digits(output)
    number = number.upper()
    assert number[:-4] not in digits and number[:7] not in digits, repr(output)
    assert number[-4:] in digits, repr(output)
    assert mask_text(output) == output, "masking is idempotent"


def _group(number: str, sizes: tuple[int, ...], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(number[pos : pos + size])
        pos += size
    assert pos == len(number)
    return sep.join(out)


PHONE_GROUPINGS = [(4, 3, 4), (3, 2, 2, 2, 2), (2, 2, 2, 2, 3), (5, 6), (2, 3, 3, 3), (3, 3, 5), (4, 4, 3),
                   (1,) * 11, (3, 4, 2, 2), (1, 2, 4, 4)]
SPACES = [" ", "\u00a0", "\u3000", "-", "\u2010", "\u2013", "\uff0d", "%20"]


@pytest.mark.parametrize("sizes", PHONE_GROUPINGS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("sep", SPACES, ids=lambda c: f"U+{ord(c[0]):04X}" if len(c) == 1 else c)
def test_a_phone_in_any_grouping_is_masked(sizes: tuple[int, ...], sep: str) -> None:
    _assert_masked("客户电话 " + _group(PHONE, sizes, sep) + " 请回电", PHONE)
    _assert_masked(_group(PHONE, sizes, sep), PHONE)


def test_the_reported_phone_groupings_are_masked_as_documented() -> None:
    assert mask_text("1380 013 8000") == "**** *** 8000"
    assert mask_text("138 00 13 80 00") == "*** ** ** 80 00"
    assert mask_text("+86 1380 013 8000") == "+86 **** *** 8000"
    assert classify("联系 138 00 13 80 00")["phone"] == 1


ID_GROUPINGS = [(3, 3, 3, 3, 3, 3), (2,) * 9, (6, 6, 6), (5, 5, 5, 3), (4, 4, 4, 6), (6, 4, 2, 2, 4), (9, 9),
                (1, 5, 8, 4)]
ID_SEPS = [" ", ".", "/", "-", "\u3000", "\u00a0", "_", "%20"]


@pytest.mark.parametrize("sizes", ID_GROUPINGS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("sep", ID_SEPS, ids=lambda c: f"U+{ord(c[0]):04X}" if len(c) == 1 else c)
def test_an_id_number_in_any_grouping_is_masked(sizes: tuple[int, ...], sep: str) -> None:
    for number in (ID18, GB_EXAMPLE, ID18.lower()):
        _assert_masked("身份证 " + _group(number, sizes, sep) + " 已核实", number)
        _assert_masked("客户 " + _group(number, sizes, sep), number)


def _pct(text: str, times: int) -> str:
    """``text`` with its digits and spaces percent-encoded, then encoded ``times - 1`` times more as an
    encoder does it (each ``%`` becomes ``%25``)."""
    text = "".join(f"%{ord(c):02X}" if c == " " or c.isdigit() else c for c in text)
    return text.replace("%", "%" + "25" * (times - 1))


@pytest.mark.parametrize("times", [1, 2, 3])
@pytest.mark.parametrize("number", [PHONE, ID18, "138 0013 8000", "1380 013 8000", "110105 19491231 002X",
                                    "6222 0212 3456 7890"])
def test_numbers_percent_encoded_more_than_once_are_masked(times: int, number: str) -> None:
    raw = number.replace(" ", "")
    _assert_masked("https://crm.example/search?q=" + _pct(number, times) + "&tab=1", raw)


def test_twice_encoded_separators_between_plain_digit_groups_are_masked() -> None:
    _assert_masked("https://crm.example/s?q=138%25200013%25208000", PHONE)
    _assert_masked("https://crm.example/s?q=138%2B0013%2B8000", PHONE)
    _assert_masked("https://crm.example/s?q=110105%252019491231%2520002X", ID18)
    _assert_masked("q=138%25252000138000", PHONE)


ENTITY_FORMS = {
    "decimal": lambda c: f"&#{ord(c)};",
    "hex": lambda c: f"&#x{ord(c):x};",
    "hex upper": lambda c: f"&#X{ord(c):X};",
    "zero padded": lambda c: f"&#{ord(c):05d};",
    "no semicolon": lambda c: f"&#{ord(c)}",
}


@pytest.mark.parametrize("form", sorted(ENTITY_FORMS))
def test_numbers_spelled_with_html_character_references_are_masked(form: str) -> None:
    enc = ENTITY_FORMS[form]
    for number in (PHONE, ID18, GB_EXAMPLE):
        _assert_masked("<td>" + "".join(enc(c) for c in number) + "</td>", number)
        half = len(number) // 2  # some digits as references, the others plain
        _assert_masked("<td>" + "".join(enc(c) for c in number[:half]) + number[half:] + "</td>", number)


@pytest.mark.parametrize("between", ["&nbsp;", "&#32;", "&#160;", "&#x3000;", "&#8203;", "&shy;", "&ensp;",
                                     "&#8209;"])
def test_html_references_between_digit_groups_are_read_as_what_they_stand_for(between: str) -> None:
    _assert_masked("电话 138" + between + "0013" + between + "8000", PHONE)
    _assert_masked("证件 110105" + between + "19491231" + between + "002X", ID18)


def test_mixed_full_width_digits_and_separators() -> None:
    _assert_masked("客户 １３８０\u3000０１3\u30008０００", PHONE)
    _assert_masked("客户 １１０１０５ 1949１２３１ ００２Ｘ", ID18)
    _assert_masked("客户 １38\u00a000１3\u00a08000", PHONE)


@pytest.mark.parametrize("text", [
    "192.168.100.10", "172.16.100.200", "http://172.16.100.200:8080/", "Chrome/138.0.7204.100",
    "v13.8.0013.8000", "应还 12,345.67 元", "12,345,678.90", "2026-11-23 13:45:00", "2026/11/23",
    "13:80:01:38:00:0", "CASE-2026-000123", "案件编号 AJ2026112313800138", "15\t20\t300\t45\t10",
    "1.38.0013.8000", "订单 13800138000123", "&#49;&#50;&#51;", "50%2520off 13:45", "&#49;&#51;&#56; yuan",
])
def test_look_alikes_stay_as_they_are(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize("number", [
    "".join(f"&#{ord(c)};" for c in PHONE), "".join(f"&#x{ord(c):x};" for c in PHONE),
    "138&nbsp;0013&nbsp;8000", "138&#160;0013&#160;8000", _pct(PHONE, 2), "1380 013 8000", "一三八零零一三八零零零",
], ids=["decimal", "hex", "nbsp", "#160", "percent twice", "4-3-4", "chinese numerals"])
def test_truncation_cuts_no_spelled_number_in_two(number: str) -> None:
    """A long text cut inside a number spelled with HTML character references or encoded twice: the whole
    number goes with the tail, none of its leading digits stays in the head unmasked."""
    for start in range(MAX_FIELD_CHARS - 40 - len(number), MAX_FIELD_CHARS - 39):
        output = mask_text("a" * start + number + " tail" + "b" * 100)
        head = output.rsplit("…", 1)[0]
        assert "…[truncated" in output
        revealed = reveal_digits(head).translate(str.maketrans("零一二三四五六七八九", "0123456789"))
        digits = "".join(str(int(c)) for c in revealed if c.isdecimal())
        assert PHONE[:5] not in digits, (start, head[-60:])


@pytest.mark.parametrize("between", ["  ", " - ", " – ", "\u3000\u3000", " / ", "-\u00a0", "%20%20", " . "])
def test_numbers_with_a_few_separators_between_groups_are_masked(between: str) -> None:
    """``138 - 0013 - 8000``: up to three separators between two groups (spaces around a dash, two spaces)."""
    _assert_masked("电话 " + between.join(("138", "0013", "8000")) + " 谢谢", PHONE)
    _assert_masked("证件 " + between.join(("110105", "19491231", "002X")), ID18)
    output = mask_text("卡号 " + between.join(("6222", "0212", "3456", "7890")))
    assert "6222" not in output and output.endswith("7890"), repr(output)


@pytest.mark.parametrize("sep", [".", "/", "_", "|", "\t", "．"])
def test_a_phone_grouped_4_3_4_is_masked_with_every_separator(sep: str) -> None:
    _assert_masked("电话 " + sep.join(("1380", "013", "8000")), PHONE)


@pytest.mark.parametrize("text", [
    "2026-11-23  13:45:00", "第 13 - 15 页", "12:30 - 13:45", "2026-11-23 - 2026-12-01", "v1.2.3 - 1.3.8",
    "192.168.100.10 - 172.16.100.200", "CASE-2026-000123  CASE-2026-000124", "1380.1.38.0013",
])
def test_look_alikes_with_a_few_separators_stay_as_they_are(text: str) -> None:
    assert mask_text(text) == text


CJK = str.maketrans("0123456789", "零一二三四五六七八九")


@pytest.mark.parametrize("text", [
    "电话" + PHONE.translate(CJK) + "请回电", "电话 一三八 零零一三 八零零零", "电话 幺三八零零幺三八零零零",
    "电话 " + PHONE.translate(str.maketrans("0123456789", "〇一二三四五六七八九")),
    "身份证 " + ID18[:17].translate(CJK) + "X", "身份证 " + GB_EXAMPLE.translate(CJK),
], ids=["plain", "grouped", "yao", "ling", "id", "gb"])
def test_numbers_spelled_in_chinese_numerals_are_masked(text: str) -> None:
    output = mask_text(text)
    digits = _digits(output)
    assert "1380013" not in digits and "11010519" not in digits and "44052418" not in digits, repr(output)
    assert digits.endswith(("8000", "002X", "0014")), repr(output)
    assert mask_text(output) == output


@pytest.mark.parametrize("text", [
    "二〇二六年十一月二十三日", "一五一十地说了", "三三两两", "乱七八糟", "九九八十一难", "第一二三四五六七八九名",
    "一百三十八万零一千三百八十元", "星期一 13:45", "张三 110101199003077777", "张三13800",
])
def test_chinese_numerals_in_ordinary_text_stay(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize("text", ["张三13800138000", "13800138000零零零零", "一二三四13800138000",
                                  "零零零零零零零零零零零13800138000", "13800138000 一三八零零一三八零零零"])
def test_numerals_touching_a_number_do_not_hide_it(text: str) -> None:
    output = mask_text(text)
    assert "1380013" not in output and "8000" in output, repr(output)


def _utf8_pct(text: str) -> str:
    return "".join("".join(f"%{b:02X}" for b in c.encode()) if not c.isascii() else c for c in text)


FW = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize("text", [
    _utf8_pct(PHONE.translate(FW)), _utf8_pct("138\u30000013\u30008000"), _utf8_pct("138\u00a00013\u00a08000"),
    _utf8_pct(ID18.translate(FW)), _utf8_pct(PHONE.translate(FW)).replace("%", "%25"),
    _utf8_pct(PHONE.translate(FW)).lower(),
], ids=["full-width", "ideographic space", "nbsp", "id", "twice", "lower-case hex"])
def test_full_width_digits_and_spaces_percent_encoded_as_utf8_are_masked(text: str) -> None:
    """A browser's search URL for １３８００１３８０００ carries %EF%BC%91%EF%BC%93...: the same number."""
    raw = ID18 if "%BC%B8" in text else PHONE
    _assert_masked("https://crm.example/search?q=" + text + "&page=1", raw)


@pytest.mark.parametrize("text", [
    "138\u200b \u200b0013\u200b \u200b8000", "138\u00ad 0013\u00ad 8000", "138 \u2060-\u2060 0013 - 8000",
    "\\u0031\\u0033\\u0038\\u0030\\u0030\\u0031\\u0033\\u0038\\u0030\\u0030\\u0030", "138\\u00200013\\u00208000",
    "&amp;#49;&amp;#51;&amp;#56;&amp;#48;&amp;#48;&amp;#49;&amp;#51;&amp;#56;&amp;#48;&amp;#48;&amp;#48;",
    "138·0013·8000", "138・0013・8000", "138‧0013‧8000",
], ids=["zero-width around spaces", "soft hyphen before spaces", "word joiner around a dash", "json escapes",
        "json escaped spaces", "html escaped twice", "middle dot", "katakana middle dot", "hyphenation point"])
def test_more_hiding_between_digit_groups_is_seen_through(text: str) -> None:
    _assert_masked("电话 " + text + " 谢谢", PHONE)


@pytest.mark.parametrize("glued", ["&#49;", "&#x31;", "\\u0031", "&#49;&#49;", "&#x31;&#x32;&#x33;"])
def test_a_reference_glued_to_a_number_does_not_hide_it(glued: str) -> None:
    """Read whole, ``&#49;13800138000`` is a 12-digit run; read apart, it holds a phone: the masking reads it
    both ways and keeps what shows fewer digits."""
    for number, last in ((PHONE, "8000"), (ID18, "002X")):
        for text in (glued + number, number + glued, "q=" + glued + number + "&x=1"):
            output = mask_text(text)
            digits = _digits(output)
            assert number[:7] not in digits and last in digits, repr(output)
            assert mask_text(output) == output
