"""Examples for every shape the masker must hide and every look-alike it must leave alone."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable

import pytest

from contract.masking import (
    MAX_FIELD_CHARS,
    Finding,
    MaskingEngine,
    MaskingError,
    classify,
    mask_obj,
    mask_stream,
    mask_text,
)
from contract.masking.normalize import reveal_digits

ID = "11010519491231002X"
ID_DIGIT = "440308199901011234"
PHONE = "13800138000"
CARD = "6222021234567890123"


@pytest.mark.parametrize(("text", "expected"), [
    # 18-character IDs, their check X in every case and width, separators and groupings
    (ID, "**************002X"),
    ("11010519491231002x", "**************002x"),
    (ID_DIGIT, "**************1234"),
    ("１１０１０５１９４９１２３１００２Ｘ", "**************００２Ｘ"),
    ("１１０１０５１９４９１２３１００２ｘ", "**************００２ｘ"),
    ("110105 19491231 002X", "****** ******** 002X"),
    ("110105-19491231-002X", "******-********-002X"),
    ("110105\u300019491231\u3000002X", "******\u3000********\u3000002X"),
    ("110105.19491231.002X", "******.********.002X"),
    ("1101 0519 4912 3100 2X", "**** **** **** **00 2X"),
    ("110105 1949 1231 002X", "****** **** **** 002X"),
    # touching letters, CJK, underscores, percent escapes
    ("abc11010519491231002Xdef", "abc**************002Xdef"),
    ("客户11010519491231002X的", "客户**************002X的"),
    ("user_11010519491231002X_x", "user_**************002X_x"),
    ("44030819990101123400x", "44030819990101123400x"),  # 20 digits: a longer run, not an ID
    ("440308199901011234x", "**************1234x"),  # a letter x after a complete ID
    ("/s?q=%E5%AE%A211010519491231002X%E7%9A%84", "/s?q=%E5%AE%A2**************002X%E7%9A%84"),
    ("/s?q=%2011010519491231002X", "/s?q=%20**************002X"),
    ('{"t": "\\u5ba211010519491231002X"}', '{"t": "\\u5ba2**************002X"}'),
    # several, and two back to back (36 characters)
    (ID + ID, "**************002X**************002X"),
    (ID_DIGIT + ID_DIGIT, "**************1234**************1234"),
    (f"{ID}、{ID_DIGIT}；{PHONE}", "**************002X、**************1234；*******8000"),
    # permits and foreign permanent resident IDs
    ("810000199001011230", "**************1230"),
    ("830000200512310012", "**************0012"),
    ("911156199001010010", "**************0010"),
    # legacy 15-digit IDs only next to an ID keyword
    ("身份证号：110105491231002", "身份证号：***********1002"),
    ("证件号码 110105 491231 002", "证件号码 ****** *****1 002"),
    ("ID No. 110105491231002", "ID No. ***********1002"),
    ("id_no=110105491231002", "id_no=***********1002"),
    ("sfz110105491231002", "sfz***********1002"),
    ("110105491231002", "110105491231002"),
    ("订单 110105491231002", "订单 110105491231002"),
    # an ID with a wrong check character is forgiven next to a keyword
    ("身份证 110105194912310021", "身份证 **************0021"),
    # phones
    (PHONE, "*******8000"),
    ("138 0013 8000", "*** **** 8000"),
    ("138-0013-8000", "***-****-8000"),
    ("+86 138 0013 8000", "+86 *** **** 8000"),
    ("+86-13800138000", "+86-*******8000"),
    ("008613800138000", "0086*******8000"),
    ("8613800138000", "86*******8000"),
    ("(+86)13800138000", "(+86)*******8000"),
    ("客户１３８００１３８０００的", "客户*******８０００的"),
    ("tel:13800138000;", "tel:*******8000;"),
    ("50%13800138000", "50%*******8000"),
    # cards
    (CARD, "***************0123"),
    ("6222 0212 3456 7890", "**** **** **** 7890"),
    ("6222-0212-3456-7890-123", "****-****-****-***0-123"),
    ("4111111111111111", "************1111"),
    ("4111 1111 1111 1111", "**** **** **** 1111"),
    ("378282246310005", "***********0005"),
    ("5555555555554444", "************4444"),
    ("6222 0212 3456 7890 138 0013 8000", "**** **** **** 7890 *** **** 8000"),
])
def test_masks(text: str, expected: str) -> None:
    assert mask_text(text) == expected
    assert mask_text(expected) == expected


@pytest.mark.parametrize("text", [
    "1732400000000",  # a millisecond timestamp: 13 digits starting with 1
    "1732400000",
    "1732400000000123",
    "ts=1732400000000&_=1732400000001",
    "1862893128376782848",  # a snowflake id
    "110105194912310021",  # wrong check character
    "110105194902301234",  # February 30th
    "110105219912310011",  # born in the future
    "000105194912310012",  # no such province
    "4200001234202611231234567890",  # a 28-digit payment transaction number
    "202611232200123456789012345678",
    "91350100M000100Y43",  # unified social credit codes
    "13540232255M71947X",
    "CASE-2026-000123",
    "(2026)京0105民初12345号",
    "¥1,234,567.89",
    "12345678.90元",
    "2026-11-23 14:05:33.123",
    "20261123140533",
    "20261123140533123",
    "172.16.133.139",
    "10.0.19045.3693",
    "Chrome/131.0.6778.86",
    "4111111111111112",  # fails Luhn
    "1234567812345678",  # passes Luhn but no card starts with 1
    "010-12345678",
    "400-820-8820",
    "12345678901",  # not a mobile prefix
    "138001380001",  # 12 digits
    "v1.2.3-build.13800138",
    "",
    "no digits at all",
])
def test_leaves_alone(text: str) -> None:
    assert mask_text(text) == text


def test_classify_counts_each_kind() -> None:
    text = f"{ID} {PHONE} 客户 {CARD} 和 138 0013 8001，身份证 110105491231002"
    assert classify(text) == {"id_number": 2, "phone": 2, "bank_card": 1}
    assert classify("nothing here 1732400000000") == {"id_number": 0, "phone": 0, "bank_card": 0}


def test_classify_counts_a_bulk_copy_beyond_the_field_limit() -> None:
    rows = "\n".join(f"张三,{ID},{PHONE}" for _ in range(2000))  # about 70 KB
    assert len(rows) > 4 * MAX_FIELD_CHARS
    assert classify(rows) == {"id_number": 2000, "phone": 2000, "bank_card": 0}
    small = MaskingEngine(classify_max_chars=100)
    assert classify(rows, engine=small)["id_number"] == 3


def test_mask_obj_masks_strings_keys_and_long_integers() -> None:
    event = {
        "title": f"客户 {ID}",
        PHONE: [PHONE, 13800138000, 4111111111111111, 1732400000000, 42, 1.5, True, None],
        "nested": {"deep": [{"x": f"卡号{CARD}"}]},
        "id_no": 110105491231002,
        "size": 12345678901,
        "float": 13800138000.0,
    }
    assert mask_obj(event) == {
        "title": "客户 **************002X",
        "*******8000": ["*******8000", "*******8000", "************1111", 1732400000000, 42, 1.5, True, None],
        "nested": {"deep": [{"x": "卡号***************0123"}]},
        "id_no": "***********1002",
        "size": 12345678901,
        "float": "*******8000",
    }
    assert event["title"] == f"客户 {ID}"  # a copy: the input is untouched


def test_mask_obj_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(MaskingError):
        mask_obj({"x": {1, 2}})
    with pytest.raises(MaskingError):
        mask_obj({1: "x"})
    nested: list[object] = []
    for _ in range(1000):
        nested = [nested]
    with pytest.raises(MaskingError):
        mask_obj(nested)


def test_mask_text_refuses_non_text() -> None:
    with pytest.raises(MaskingError):
        mask_text(12345678901)  # type: ignore[arg-type]


def test_long_text_is_truncated_before_masking() -> None:
    text = "a" * (MAX_FIELD_CHARS - 100) + " " + ID + " " + "b" * 10_000
    out = mask_text(text)
    assert len(out) <= MAX_FIELD_CHARS
    assert ID not in out and "**************002X" in out
    head, marker = out.rsplit("…", 1)
    assert marker == f"[truncated {len(text) - len(head)} chars]"
    assert mask_text(out) == out


def test_truncation_never_cuts_a_number_in_two() -> None:
    for shift in range(0, 40):
        text = "a" * (MAX_FIELD_CHARS - 40 - shift) + ID + "b" * 100
        out = mask_text(text)
        assert ID[:10] not in out and mask_text(out) == out


def test_mask_stream_is_a_line_filter() -> None:
    lines = [f"客户 {ID}", "", "plain", f"{PHONE}\r", "x" * 20_000 + PHONE]
    infile = io.StringIO("\n".join(lines))  # the last line has no newline
    out = io.StringIO()
    assert mask_stream(infile, out) == len(lines)
    result = out.getvalue().split("\n")
    assert result[:4] == ["客户 **************002X", "", "plain", "*******8000\r"]
    assert result[4].startswith("xxxx") and "…[truncated " in result[4] and PHONE not in result[4]
    assert not out.getvalue().endswith("\n")


def test_mask_stream_flushes_every_line() -> None:
    class Recorder(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.flushes: list[str] = []

        def flush(self) -> None:
            self.flushes.append(self.getvalue())

    out = Recorder()
    mask_stream(io.StringIO(f"{PHONE}\nb\n"), out)
    assert out.flushes == ["*******8000\n", "*******8000\nb\n"]


class ExplodingDetector:
    def find(self, text: str, *, id_hint: bool = False) -> list[Finding]:
        raise RuntimeError(f"boom with {text}")


def test_fails_closed_and_logs_only_the_exception_type(caplog: pytest.LogCaptureFixture) -> None:
    broken = MaskingEngine(detector=ExplodingDetector())
    text = f"客户 {ID}，2026-11-23 订单 1732400000000 tel １３８００１３８０００ ok 12"
    with caplog.at_level(logging.ERROR, logger="contract.masking"):
        out = mask_text(text, engine=broken)
    assert out == "客户 **************002X，****-11-23 订单 *********0000 tel *******８０００ ok 12"
    assert [r.getMessage() for r in caplog.records] == [
        "masking failed with RuntimeError; masked every digit run instead"]
    assert ID not in caplog.text and "boom" not in caplog.text
    assert mask_obj({"t": text}, engine=broken) == {"t": out}
    with pytest.raises(MaskingError):
        classify(text, engine=broken)


def test_fails_closed_on_numbers_spelled_with_hidden_digits() -> None:
    """Zero-width spaces, soft hyphens, circled or keycap digits: the fail-closed mask reads them as the
    detectors do, so a number spelled with them keeps its last four digits only."""
    broken = MaskingEngine(detector=ExplodingDetector())
    for text in ("\u200b".join(ID), "138\u00ad0013\u00ad8000", "①③⑧⓪⓪①③⑧⓪⓪⓪", "138%30013%38000"):
        out = mask_text("客户 " + text, engine=broken)
        digits = "".join(c for c in reveal_digits(out) if c.isdecimal())
        assert len(digits) <= 4 and "*" in out, (text, out)


def test_fail_closed_output_is_stable_under_the_real_engine() -> None:
    broken = MaskingEngine(detector=ExplodingDetector())
    text = f"{ID} 6222 0212 3456 7890 138%200013%208000"
    out = mask_text(text, engine=broken)
    assert mask_text(out) == out and "0212" not in out


def _finishes(func: Callable[[], object], deadline: float) -> bool:
    """Run ``func`` in a thread and wait for it on a condition, not a sleep."""
    done = threading.Event()

    def run() -> None:
        func()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(deadline)


@pytest.mark.parametrize("text", [
    "1" * 1_000_000,
    "1 " * 500_000,
    "1-2.3 4\u30005" * 200_000,
    "%20".join("13800138000" for _ in range(100_000)),
    ("6222 " * 200_000),
    (ID + "x") * 50_000,
    "１" * 1_000_000,
    ("1" * 17 + "X") * 50_000,
])
def test_adversarial_inputs_finish_quickly(text: str) -> None:
    small = text[: MAX_FIELD_CHARS - 1]
    start = time.perf_counter()
    assert _finishes(lambda: mask_text(text), deadline=10.0)
    assert _finishes(lambda: [mask_text(small) for _ in range(10)], deadline=10.0)
    assert time.perf_counter() - start < 20.0


def test_json_line_through_the_stream() -> None:
    line = json.dumps({"title": f"客户 {ID}", "phone": PHONE}, ensure_ascii=False)
    out = io.StringIO()
    mask_stream(io.StringIO(line + "\n"), out)
    assert json.loads(out.getvalue()) == {"title": "客户 **************002X", "phone": "*******8000"}
