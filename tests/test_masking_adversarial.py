"""Adversarial shapes (issue 14): each sample's raw digits are gone and its last four are kept."""

from __future__ import annotations

import json

import pytest

from contract import wire
from contract.masking import MAX_FIELD_CHARS, mask_obj, mask_text
from contract.masking.idcard import check_char
from contract.masking.normalize import reveal_digits
from simulator.testing.alerts import SealedAgent
from tests.conftest import wait_for
from tests.test_ingest_rejections import Harness, h  # noqa: F401  (fixture)

GB_EXAMPLE = "440524188001010014"  # GB 11643's own example, born 1880
# digit-like signs, each standing for the digit of the same position ("0123456789")
CIRCLED = str.maketrans("0123456789", "⓪①②③④⑤⑥⑦⑧⑨")
NEGATIVE_CIRCLED = str.maketrans("0123456789", "⓿❶❷❸❹❺❻❼❽❾")
DOUBLE_CIRCLED = str.maketrans("0123456789", "⓪⓵⓶⓷⓸⓹⓺⓻⓼⓽")
PARENTHESIZED = str.maketrans("0123456789", "⓪⑴⑵⑶⑷⑸⑹⑺⑻⑼")
FULL_STOP = str.maketrans("0123456789", "🄀⒈⒉⒊⒋⒌⒍⒎⒏⒐")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")

SHAPES = {
    "zero-width space": "4405\u200b2418800\u200b1010014",
    "soft hyphen": "440524\u00ad18800101\u00ad0014",
    "word joiner": "4405241\u20608800101\u20600014",
    "bom": "\ufeff440524188001010014",
    "dots": "440524.18800101.0014",
    "slashes": "440524/18800101/0014",
    "underscores": "440524_18800101_0014",
    "pipes": "440524|18800101|0014",
    "tabs": "440524\t18800101\t0014",
    "percent-encoded": "https://crm.example/q?id=" + "".join(f"%3{d}" for d in GB_EXAMPLE),
    "full-width": "４４０５２４１８８００１０１００１４",
    "plain": GB_EXAMPLE,
    "circled": GB_EXAMPLE.translate(CIRCLED),
    "negative circled": GB_EXAMPLE.translate(NEGATIVE_CIRCLED),
    "double circled": GB_EXAMPLE.translate(DOUBLE_CIRCLED),
    "parenthesized": GB_EXAMPLE.translate(PARENTHESIZED),
    "digit full stop": GB_EXAMPLE.translate(FULL_STOP),
    "superscript": GB_EXAMPLE.translate(SUPERSCRIPT),
    "circled groups between ascii": "440524" + "18800101".translate(CIRCLED) + " 0014",
    "circled with a zero-width space": "4405".translate(CIRCLED) + "\u200b" + "24188001010014".translate(CIRCLED),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_gb_example_is_masked_in_every_shape(shape: str) -> None:
    output = mask_text("客户 " + SHAPES[shape] + " 已核实")
    digits = "".join(str(int(c)) for c in output if c.isdecimal())
    assert GB_EXAMPLE[:-4] not in digits
    assert digits.endswith("0014")


@pytest.mark.parametrize(
    "text", ["13800138000", "138/0013/8000", "138_0013_8000", "138|0013|8000", "138\u200b0013\u200b8000"]
)
def test_phone_behind_separators(text: str) -> None:
    output = mask_text("电话 " + text)
    assert "1380013" not in output.replace("/", "").replace("_", "").replace("|", "")
    assert output.endswith("8000")


# Every space of Unicode (category Zs) that the eye reads as a space: en, em, thin, hair, figure,
# narrow no-break (French digit grouping), medium mathematical, ogham
UNICODE_SPACES = "\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"


@pytest.mark.parametrize("space", list(UNICODE_SPACES), ids=lambda c: f"U+{ord(c):04X}")
def test_numbers_grouped_by_any_unicode_space_are_masked(space: str) -> None:
    phone = mask_text("电话 " + space.join(("138", "0013", "8000")))
    assert "138" not in phone and phone.endswith("8000"), repr(phone)
    number = mask_text("证件 " + space.join(("440524", "18800101", "0014")))
    assert "440524" not in number and number.endswith("0014"), repr(number)
    card = mask_text("卡号 " + space.join(("6222", "0212", "3456", "7890")))
    assert "6222" not in card and card.endswith("7890"), repr(card)


@pytest.mark.parametrize("marks", ["\ufe0f\u20e3", "\u20e3", "\u0332", "\u0336", "\u0305", "\u20dd", "\ufe0e"],
                         ids=["keycap emoji", "keycap", "underlined", "struck through", "overlined", "enclosed",
                              "text style"])
def test_digits_dressed_in_combining_marks_are_masked(marks: str) -> None:
    """1️⃣3️⃣8️⃣... or 1̲3̲8̲...: each digit followed by marks that draw around it reads as that digit."""
    for number, last in (("13800138000", "8000"), (GB_EXAMPLE, "0014")):
        output = mask_text("联系 " + "".join(d + marks for d in number) + " 谢谢")
        digits = "".join(c for c in output if c.isdecimal())
        assert number[:-4] not in digits and digits.endswith(last), repr(output)
        assert mask_text(output) == output


@pytest.mark.parametrize("escape", ["\\x31", "\\x3A", "%u53f7", "%U53F7", "\\U000053f7", "\\U00002460", "\\u2460"])
def test_a_number_right_after_an_escape_whose_hex_ends_in_digits_is_masked(escape: str) -> None:
    """\\x31, %u53f7 (JavaScript's escape()), \\U00002460: the escape's hex digits touch the number
    without being part of it, as with %A2 and \\u5ba2."""
    for number, last in (("13800138000", "8000"), (GB_EXAMPLE, "0014"), ("6222021234567890", "7890")):
        output = mask_text("q=" + escape + number)
        assert output.startswith("q=" + escape), repr(output)
        assert number[:-4] not in output and output.endswith(last), repr(output)


def test_keyword_and_check_character_mask_whatever_the_birth_date() -> None:
    body = "44052428500101001"  # born "2850"
    number = body + check_char(body)
    assert mask_text("编号 " + number) == "编号 " + number  # no keyword, no plausible date: left alone
    output = mask_text("身份证 " + number)
    assert number[:-4] not in output and output.endswith(number[-4:])
    assert number[:-4] not in json.dumps(mask_obj({"id_no": number}))


@pytest.mark.parametrize("value", [13800138000.25, 11010519491231002.5, 4405241880010100.5])
def test_non_integral_float_integer_part_is_masked(value: float) -> None:
    output = json.dumps(mask_obj({"v": value}))
    whole = str(int(value))
    assert whole[:-4] not in output and "e+" not in output
    assert whole[-4:] in output


def test_dict_key_holding_an_id_is_masked() -> None:
    output = mask_obj({GB_EXAMPLE: "x", "nested": [{"11010519491231002X": 1}]})
    text = json.dumps(output, ensure_ascii=False)
    assert GB_EXAMPLE[:-4] not in text and "110105194912310" not in text
    assert "**************0014" in output


@pytest.mark.parametrize("text", ["①③⑧⓪⓪①③⑧⓪⓪⓪", "❶❸❽ ⓿⓿❶❸ ❽⓿⓿⓿", "⑬８⓪⓪①③⑧⓪⓪⓪", "138-⓪⓪①③-8000"])
def test_phone_in_circled_and_mixed_digits(text: str) -> None:
    output = mask_text("电话 " + text)
    assert output.endswith("8000") and "138" not in output
    assert mask_obj({"k": [output]}) == {"k": [output]}  # already masked: stable


def test_circled_list_markers_are_left_alone() -> None:
    for text in ("第①条 第②条 第③条", "步骤 ❶ 打开 ❷ 核对", "⑳ 号窗口", "x² + y²"):
        assert mask_text(text) == text


def test_dict_key_in_circled_digits_is_masked() -> None:
    key = GB_EXAMPLE.translate(CIRCLED)
    output = mask_obj({"rows": [{key: 1}]})
    assert output == {"rows": [{"**************0014": 1}]}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_truncation_cuts_no_hidden_number_in_two(shape: str) -> None:
    """A long text cut inside a number spelled with zero-width spaces, circled digits or escapes: the
    whole number goes with the tail, none of its leading digits stays in the head unmasked."""
    number = SHAPES[shape]
    for start in range(MAX_FIELD_CHARS - 40 - len(number), MAX_FIELD_CHARS - 39):
        output = mask_text("a" * start + number + " tail" + "b" * 100)
        head = output.rsplit("…", 1)[0]
        digits = "".join(str(int(c)) for c in reveal_digits(head) if c.isdecimal())
        assert GB_EXAMPLE[:8] not in digits, (shape, start, head[-60:])


# -- what the collector stores and returns ----------------------------------------------------------
def test_collector_keeps_no_raw_number_in_keys_metadata_or_alerts(h: Harness) -> None:  # noqa: F811
    """JSON object keys, enrollment metadata and alert records: each is masked before it is stored."""
    from datetime import UTC, datetime

    from collector.errors import EnrollmentRefused
    from contract.schema import format_ts
    from tests.conftest import RAW_IDS

    circled = RAW_IDS[0].translate(CIRCLED)
    h.seq += 1
    keyed = {"schema": 1, "agent_id": "pc-1", "seq": h.seq, "ts": format_ts(datetime.now(UTC)), "kind": "app.focus",
             "app": "crm", "title": "t", "pid": 1, RAW_IDS[1]: {circled: RAW_IDS[3]}}
    answer = h.post(h.seal(1, [keyed, *h.events(1)]))
    assert answer.status_code == 200 and answer.json()["quarantined"] == 1, answer.text
    with pytest.raises(EnrollmentRefused) as refused:
        h.collector.enrollment.create_token(f"team-{RAW_IDS[2]}")
    assert refused.value.code == "bad_team"
    pc = SealedAgent(h.collector, "pc-z9")
    status = h.client.post("/api/v1/enroll", json={
        "token": h.collector.enrollment.create_token("cs-a"), "name": "pc-y8", "hostname": f"DESKTOP-{circled}",
        "user": f"{RAW_IDS[2]}@corp", "public_key": wire.public_key_b64(wire.new_agent_key().public_key())})
    assert status.status_code == 200, status.text
    agent = h.collector.store.get_agent("pc-y8")
    assert agent is not None and circled not in str(agent) and RAW_IDS[2] not in str(agent)
    assert str(agent["hostname"]).endswith("002X")
    h.collector.accounts.add_user("sec", "security")
    bearer = {"Authorization": f"Bearer {h.collector.accounts.create_token('sec')}"}
    writes = [pc.event("file.write", path=f"E:/客户 {circled}.xlsx", op="created", removable=True, size=10)]
    assert h.client.post("/api/v1/batches", content=pc.seal(writes)).status_code == 200
    alerts = wait_for(lambda: h.client.get("/api/v1/alerts", headers=bearer).json()["alerts"], 30, what="an alert")
    answers = [json.dumps(alerts, ensure_ascii=False),
               h.client.get("/api/v1/agents", headers=bearer).text,
               json.dumps(h.collector.store.quarantined(), ensure_ascii=False),
               json.dumps(h.collector.store.integrity_records(), ensure_ascii=False)]
    for text in answers:
        assert circled not in text and not any(raw in text for raw in RAW_IDS), text[:300]
