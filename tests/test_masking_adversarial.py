"""Adversarial shapes (issue 14): each sample's raw digits are gone and its last four are kept."""

from __future__ import annotations

import json

import pytest

from agent.masking import mask_obj, mask_text
from agent.masking.idcard import check_char

GB_EXAMPLE = "440524188001010014"  # GB 11643's own example, born 1880

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
