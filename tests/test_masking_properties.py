"""Property tests: valid numbers in every shape, inside random text, never survive masking."""

from __future__ import annotations

import datetime
import io
import json
import unicodedata
import urllib.parse
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from contract.masking import classify, mask_obj, mask_stream, mask_text
from tests.test_masking_samples import CARD_BRANDS, PERMITS, PROVINCES, TODAY, id_check, luhn_complete

SEPARATORS = [" ", "\u3000", "-", ".", "\u00a0", "\uff0d", "+", "%20"]
FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)} | {"X": "Ｘ", "x": "ｘ"}
ID18_GROUPS = [(18,), (6, 8, 4), (6, 4, 4, 4), (4, 4, 4, 4, 2), (3, 3, 4, 4, 4)]
ID15_GROUPS = [(15,), (6, 6, 3)]
PHONE_GROUPS = [(11,), (3, 4, 4), (3, 8), (7, 4)]
CARD_GROUPS = {13: [(13,)], 14: [(14,), (4, 6, 4)], 15: [(15,), (4, 6, 5)], 16: [(16,), (4, 4, 4, 4)],
               19: [(19,), (4, 4, 4, 4, 3), (6, 13)]}
ID_KEYWORDS = ["身份证号", "身份证", "证件号码", "公民身份号码",
               "ID No.", "ID number", "IDNo", "id_no", "idcard", "sfz"]
PHONE_PREFIXES = ["", "+86 ", "+86-", "0086 ", "86 ", "86-", "(+86)", "+86", "0086", "86"]
SEPARATOR_CHARS = {" ", "\u3000", "-", ".", "\u00a0", "\uff0d", "+"}
# Text around numbers: no digits (a digit next to a number would make it a longer digit run),
# but letters (X too), CJK, underscores, separators and percent escapes whose hex ends in digits.
TOKENS = ["客户", "的", "手机", "卡号", "abc", "X", "x", "_", "__", "Ｘ", "：", ":", "/", "?q=", "&id=", "#",
          "%E5%AE%A2", "%E7%9A%84", "%20", "%2F", "%3A", " ", "\u3000", "-", ".", "（", "）", "\"", "'", "\t"]
BREAKERS = ["客户", "的", "abc", "X", "x", "_", "：", "/", "&id=", "%E5%AE%A2", "%2F", "（", "\"", "|"]


@dataclass(frozen=True)
class Number:
    kind: str
    digits: str  # ASCII digits (and X) of the number itself
    prefix: str  # text written before it that stays (keyword, country code)
    body: str  # the number as written: grouped, separated, maybe full-width

    @property
    def text(self) -> str:
        return self.prefix + self.body

    @property
    def masked(self) -> str:
        segments = self.body.split("%20")  # a percent-encoded space is a separator, not digits
        hide = sum(1 for seg in segments for ch in seg if ch.isdecimal() or ch in "XxＸｘ") - 4
        out = []
        for seg in segments:
            chars = []
            for ch in seg:
                if (ch.isdecimal() or ch in "XxＸｘ") and hide > 0:
                    chars.append("*")
                    hide -= 1
                else:
                    chars.append(ch)
            out.append("".join(chars))
        return self.prefix + "%20".join(out)


@st.composite
def shaped(draw: st.DrawFn, digits: str, groups: list[tuple[int, ...]]) -> str:
    """``digits`` split into one of ``groups``, separators between, ASCII or full-width."""
    grouping = draw(st.sampled_from([g for g in groups if sum(g) == len(digits)]))
    parts, pos = [], 0
    for size in grouping:
        parts.append(digits[pos : pos + size])
        pos += size
    width = draw(st.sampled_from(["ascii", "full", "mixed"]))
    if width != "ascii":
        flips = draw(st.lists(st.booleans(), min_size=len(digits), max_size=len(digits)))
        pairs = zip(digits, flips, strict=True)
        chars = iter(FULLWIDTH[c] if width == "full" or flip else c for c, flip in pairs)
        parts = ["".join(next(chars) for _ in part) for part in parts]
    text = parts[0]
    for part in parts[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + part
    return text


@st.composite
def id18s(draw: st.DrawFn) -> Number:
    family = draw(st.sampled_from(["resident", "permit", "foreign"]))
    if family == "resident":
        area = f"{draw(st.sampled_from(PROVINCES))}{draw(st.integers(0, 9999)):04d}"
    elif family == "permit":
        area = f"{draw(st.sampled_from(PERMITS))}0000"
    else:
        area = f"9{draw(st.sampled_from(PROVINCES))}{draw(st.integers(0, 999)):03d}"
    born = draw(st.dates(datetime.date(1900, 1, 1), TODAY))
    first17 = f"{area}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    check = id_check(first17)
    if check == "X":
        check = draw(st.sampled_from("Xx"))
    digits = first17 + check
    return Number("id_number", digits.upper(), "", draw(shaped(digits, ID18_GROUPS)))


@st.composite
def id15s(draw: st.DrawFn) -> Number:
    born = draw(st.dates(datetime.date(1900, 1, 1), datetime.date(1999, 12, 31)))
    digits = f"{draw(st.sampled_from(PROVINCES))}{draw(st.integers(0, 9999)):04d}{born:%y%m%d}"
    digits += f"{draw(st.integers(0, 999)):03d}"
    keyword = draw(st.sampled_from(ID_KEYWORDS)) + draw(st.sampled_from(["", " ", "：", ": ", "为", "是 "]))
    return Number("id_number", digits, keyword, draw(shaped(digits, ID15_GROUPS)))


@st.composite
def phones(draw: st.DrawFn) -> Number:
    digits = f"1{draw(st.integers(3, 9))}{draw(st.integers(0, 10**9 - 1)):09d}"
    prefix = draw(st.sampled_from(PHONE_PREFIXES))
    groups = [(11,), (3, 4, 4)] if prefix[-1:].isdigit() else PHONE_GROUPS  # "+86138 0013 8000"
    return Number("phone", digits, prefix, draw(shaped(digits, groups)))


@st.composite
def cards(draw: st.DrawFn) -> Number:
    if draw(st.booleans()):
        length = draw(st.sampled_from([16, 19]))
        digits = "62" + draw(st.text("0123456789", min_size=length - 2, max_size=length - 2))
    else:
        prefix, length = draw(st.sampled_from(CARD_BRANDS))
        body = prefix + draw(st.text("0123456789", min_size=length - len(prefix) - 1,
                                     max_size=length - len(prefix) - 1))
        digits = luhn_complete(body)
    return Number("bank_card", digits, "", draw(shaped(digits, CARD_GROUPS[len(digits)])))


numbers = st.one_of(id18s(), id15s(), phones(), cards())
surrounding = st.lists(st.sampled_from(TOKENS), max_size=4).map("".join)
breaker = st.tuples(surrounding, st.sampled_from(BREAKERS), surrounding).map("".join)


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, str, list[Number]]:
    """(text, expected masked text, numbers) with 1-3 numbers in random surroundings."""
    found = draw(st.lists(numbers, min_size=1, max_size=3))
    pieces = [draw(surrounding)]
    expected = [pieces[0]]
    for k, number in enumerate(found):
        after = draw(surrounding) if k == len(found) - 1 else draw(breaker)
        pieces += [number.text, after]
        expected += [number.masked, after]
    return "".join(pieces), "".join(expected), found


def _views(text: str) -> list[str]:
    nfkc = unicodedata.normalize("NFKC", text)
    views = [text, nfkc, urllib.parse.unquote(nfkc), urllib.parse.unquote_plus(nfkc)]
    return views + ["".join(c for c in v if c not in SEPARATOR_CHARS and not c.isspace()) for v in views]


def assert_hidden(output: str, found: list[Number]) -> None:
    """No 10 consecutive digits of any number's hidden part survive in any normalised view
    (for phones, whose hidden part is 7 digits, none of it), and its last four characters do."""
    views = _views(output)
    for number in found:
        hidden = number.digits[:-4]
        width = min(10, len(hidden))
        windows = {hidden[k : k + width] for k in range(len(hidden) - width + 1)}
        for view in views:
            leaked = [w for w in windows if w in view.upper()]
            assert not leaked, (number, view)
        assert number.digits[-4:] in views[5].replace("%20", "").upper()  # NFKC, separators removed


@settings(max_examples=600, deadline=None)
@given(texts())
def test_numbers_in_any_shape_are_masked(case: tuple[str, str, list[Number]]) -> None:
    text, expected, found = case
    output = mask_text(text)
    assert output == expected
    assert_hidden(output, found)
    assert mask_text(output) == output


@settings(max_examples=300, deadline=None)
@given(texts())
def test_classify_counts_what_was_written(case: tuple[str, str, list[Number]]) -> None:
    text, _, found = case
    if any(n.prefix.strip(" ：:为是") in ID_KEYWORDS for n in found):
        return  # an ID keyword may make a 15-digit card near it read as a legacy ID
    counts = classify(text)
    kinds = ("id_number", "phone", "bank_card")
    assert counts == {kind: sum(n.kind == kind for n in found) for kind in kinds}


@settings(max_examples=200, deadline=None)
@given(texts())
def test_json_documents_and_objects(case: tuple[str, str, list[Number]]) -> None:
    text, expected, found = case
    assert mask_text(json.dumps({"title": text}, ensure_ascii=False)) == json.dumps(
        {"title": expected}, ensure_ascii=False)
    masked = mask_obj({"title": text, "nested": [{"k": text}], text: 1})
    assert masked == {"title": expected, "nested": [{"k": expected}], expected: 1}
    assert_hidden(json.dumps(masked, ensure_ascii=False), found)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(id18s(), phones(), cards()), min_size=2, max_size=4),
       st.lists(st.sampled_from([*SEPARATORS, ""]), min_size=3, max_size=3))
def test_numbers_packed_together_still_leak_nothing(found: list[Number], joins: list[str]) -> None:
    """Numbers separated only by a separator (or nothing) may be read differently, but none of
    their hidden digits may survive, and masking stays idempotent."""
    text = found[0].text
    for number, join in zip(found[1:], joins, strict=False):
        if not join and number.text[:1].isdecimal() and text[-1:].isdecimal():
            join = "_"  # touching digits make one longer run, which is not a number
        text += join + number.text
    output = mask_text(text)
    assert mask_text(output) == output
    assert_hidden_loose(output, found)


def assert_hidden_loose(output: str, found: list[Number]) -> None:
    views = _views(output)
    for number in found:
        hidden = number.digits[:-4]
        windows = {hidden[k : k + 10] for k in range(len(hidden) - 9)} if len(hidden) >= 10 else {hidden}
        for view in views:
            assert not [w for w in windows if w in view.upper()], (number, view)


@settings(max_examples=100, deadline=None)
@given(st.lists(texts(), min_size=1, max_size=5))
def test_mask_stream_is_line_for_line(cases: list[tuple[str, str, list[Number]]]) -> None:
    lines = [text.replace("\n", " ") for text, _, _ in cases]
    out = io.StringIO()
    assert mask_stream(io.StringIO("\n".join(lines) + "\n"), out) == len(lines)
    assert out.getvalue().split("\n")[:-1] == [mask_text(line) for line in lines]
    assert out.getvalue().split("\n")[:-1] == [expected.replace("\n", " ") for _, expected, _ in cases]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_masks_idempotently_and_keeps_non_digits(text: str) -> None:
    output = mask_text(text)
    assert mask_text(output) == output
    # Percent-encoded digits are decoded when they hold a number, which shortens the text.
    assert len(output) == len(text) or "%3" in text
    for before, after in zip(text, output, strict=True):
        assert before == after or (after == "*" and before.isdecimal())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789１２３Xx -.　%+_a客"), max_size=120))
def test_digit_soup_masks_idempotently(text: str) -> None:
    output = mask_text(text)
    assert mask_text(output) == output
    # Percent-encoded digits are decoded when they hold a number, which shortens the text.
    assert len(output) == len(text) or "%3" in text


_HIDING_SEPARATORS = ("\u200b", "\u00ad", "\u2060", "\ufeff", "\u200d", ".", "/", "_", "|", "\t")
_ADVERSARIAL_NUMBERS = ("440524188001010014", "11010519491231002X", "13800138000", "6222021234567890")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_ADVERSARIAL_NUMBERS),
    st.sampled_from(_HIDING_SEPARATORS),
    st.sets(st.integers(min_value=1, max_value=17), max_size=3),
)
def test_separators_between_digit_groups_do_not_hide_a_number(number: str, sep: str, cuts: set[int]) -> None:
    # Invisible format characters may go anywhere; visible ones between the usual groups only.
    visible = sep in "./_|\t"
    if visible:
        cuts = {3, 7} if len(number) == 11 else {6, 14} if len(number) == 18 else {4, 8, 12}
    cuts = {c for c in cuts if c < len(number)}
    pieces = [number[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(number)], strict=True)]
    text = "客户 " + sep.join(pieces) + " 已核实"
    output = mask_text(text)
    assert number[:-4] not in output.replace(sep, "")
    assert output.replace(sep, "").endswith(number[-4:] + " 已核实")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(("13800138000", "15912345678", "18687654321")), st.integers(min_value=1, max_value=99))
def test_non_integral_floats_keep_no_raw_integer_part(number: str, cents: int) -> None:
    value = float(f"{number}.{cents:02d}")
    output = json.dumps(mask_obj({"v": value}))
    assert number[:-4] not in output
