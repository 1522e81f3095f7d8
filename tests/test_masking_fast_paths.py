"""The masking shortcuts (issue 16, performance) against the full reading, on hostile texts.

``may_hold_number`` must answer as ``MAYBE_NUMBER_RE.search`` does, ``is_plain`` may say True only for a
text ``mask_text`` returns unchanged, the detector's skip of short chunks must find what the loop without
it finds, and the collector's ``_mask_fields`` must store what ``mask_text`` gives for every text. Texts:
every string literal of the masking tests (their hostile corpora) and hypothesis texts drawn from digits of
every script, digit-like signs, separators, check X's, percent escapes and invisible format characters.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ingest import _mask_fields
from contract.masking import DEFAULT_ENGINE, MaskingEngine, mask_text
from contract.masking.detect import NumberDetector
from contract.masking.normalize import DIGIT_LIKE, MAYBE_NUMBER_RE, holds_no_number, may_hold_number
from tests.conftest import RAW_IDS

TESTS = Path(__file__).resolve().parent


def _literals() -> list[str]:
    out: set[str] = set(RAW_IDS)
    for path in sorted(TESTS.glob("test_masking*.py")):
        if path.name == Path(__file__).name:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    return sorted(out)


CORPUS = _literals()


class FullDetector(NumberDetector):
    """The built-in detector without the skip of short chunks (the reading before it)."""

    shortest_chunk = 0


FULL = MaskingEngine(FullDetector())
FAST = NumberDetector()

_DIGITS = "0123456789０１２３４５６７８９٣٤۵७৮๙"
_SIGNS = "".join(sorted({chr(cp) for cp in DIGIT_LIKE})[:60])
_ALPHABET = _DIGITS * 4 + _SIGNS + " -.+/_|\t\u3000\u00a0－XxＸｘ%3A2\\u身份证号手机卡客户的ab\u200b\u00ad\ufeff"
texts = st.one_of(
    st.text(alphabet=_ALPHABET, max_size=80),
    st.lists(st.sampled_from([*RAW_IDS, "86", "+86 ", "%3", "%20", "身份证", "line-", " ", "X", "①", "⑫", "１"]),
             max_size=12).map("".join),
    st.text(max_size=40),
)


def _agree(text: str) -> None:
    assert may_hold_number(text) == (MAYBE_NUMBER_RE.search(text) is not None)
    assert FAST.find(text) == FULL.detector.find(text)
    assert FAST.find(text, id_hint=True) == FULL.detector.find(text, id_hint=True)
    expected = FULL.mask_text(text)
    assert DEFAULT_ENGINE.mask_text(text) == expected
    assert DEFAULT_ENGINE.mask_text(text, id_hint=True) == FULL.mask_text(text, id_hint=True)
    if DEFAULT_ENGINE.is_plain(text):
        assert expected == text
    if holds_no_number(text):
        assert expected == text or len(text) > DEFAULT_ENGINE.max_chars
    stored = _mask_fields({"schema": 1, "agent_id": "a", "seq": 1, "ts": "t", "kind": "app.focus", "title": text})
    assert stored["title"] == expected


def test_the_corpus_is_hostile() -> None:
    masked = [t for t in CORPUS if mask_text(t) != t]
    assert len(CORPUS) > 200 and len(masked) > 50  # numbers in many shapes, not only plain texts


@pytest.mark.parametrize("text", CORPUS)
def test_fast_paths_agree_on_the_masking_corpora(text: str) -> None:
    _agree(text)


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_fast_paths_agree_on_drawn_texts(text: str) -> None:
    _agree(text)


def test_is_plain_says_no_for_what_needs_the_engine() -> None:
    assert DEFAULT_ENGINE.is_plain("chrome.exe") and DEFAULT_ENGINE.is_plain("line-12345 客户详情")
    for text in (RAW_IDS[0], "%31%33%38%30%30%31%33%38%30%30%30", "①③⑧⓪⓪①③⑧⓪⓪⓪", "x" * 9000,
                 "1\u200b3800138000"):
        assert not DEFAULT_ENGINE.is_plain(text)
