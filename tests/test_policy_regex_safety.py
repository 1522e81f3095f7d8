"""The policy's regular expressions match in linear time: unsafe ones are refused at save, left out when stored."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.sensors.policy import AgentPolicy
from collector.metrics import Metrics
from collector.policy import policy_problem
from contract.policy import Policy, PolicyError, disabled_pattern_count
from contract.regex_safety import MAX_MATCH_CHARS, unsafe_construct
from detectors.policy import Policy as DetectorPolicy
from tests.web_fixtures import World

# (pattern, the construct the error names, a title or URL an insider crafts against it)
DANGEROUS = [
    (r"(a+)+$", "nested quantifier", "a" * 40 + "!"),
    (r"(\w+\s?)+$", "nested quantifier", "word " * 30 + "!"),
    (r"(?:a{1,3}){2,}x", "nested quantifier", "a" * 60),
    (r"(a+){10}b", "nested quantifier", "a" * 200),
    (r"(x|x)*y", "alternation under a quantifier", "x" * 40),
    (r"(a|ab)*c", "alternation under a quantifier", "ab" * 40),
    (r"(?:a|)+b", "alternation under a quantifier", "a" * 40),
    (r"a.*b.*c", "two quantifiers", "ab" * 512),
    (r"[a-z]+\d*[a-z]+x", "two quantifiers", "a" * 1024),
    (r".*customer.*$", "two quantifiers", "customer" * 127 + "\nx"),
    (r"(?:a.*b.*)?c", "two quantifiers", "ab" * 512),
    ("a?" * 24 + "a" * 24, "optional parts", "a" * 23 + "!"),  # 2**24 ways to spread the a's over the a?'s
    (r"(?:\d?){1}" * 24 + r"\d" * 24 + "x", "optional parts", "1" * 23),
    ("(?:(?:ab)?(?:ab)?)?" * 4 + "c", "optional parts", "ab" * 20),
    ("(?:a|)" * 24 + "a" * 24, "optional parts", "a" * 23 + "!"),
    ("(?:a|aa)" * 30 + "b", "optional parts", "a" * 40),
    (r"(?i)[a-z]+ſ+x", "two quantifiers", "ſ" * 1024),  # Python folds ſ into s: [a-z] matches it
    (r"(?i)[ſ-ƀ]+[a-z]+x", "two quantifiers", "s" * 1024),
    ("(?i)[a-z]+\u212a+x", "two quantifiers", "k" * 1024),  # the Kelvin sign
    (r"x{1001}", "repetition count above 1000", "x" * 2000),
    (r"(?:(?:\b){100}){100}", "multiplying to more than 1000", "a b " * 500),
    (r"(.)\1", "backreference", "ab" * 100),
    (r"(?=a)b", "lookahead", "a"),
    (r"(?<!a)b", "lookbehind", "a"),
    (r"(a)?(?(1)b|c)", "conditional group", "a"),
]

SAFE = [
    r"\b(C-\d{4}-\d{7})\b", r"/customers?/(\d+)", "customer", r".*customer.*", r"(\d+)-(\d+)x", r"\d+\.\d+",
    r"(?:https?://)?crm\.example/customers/(\d+)", r"[?&]cid=(\d+)", r"(?i)ticket[ #:]*(\d+)", r"/([a-z]+)/(\d+)$",
    r"[^/]+/customers?/(\d+)", r"(?:ab|cd)+", "customers?", r"[\w.-]+@[\w-]+\.\w+",
    r"CASE\s?-?\s?(\d+)", r"(?:http|https)://crm/(\d+)", r"(?:ab|ac)x(?:ab|ac)",
    r"(?:https?://)?(?:www\.)?crm\.example/c/(\d+)", r"\d?\d?\d?-\d+", r"[\u4e00-\u9fff]+[\uac00-\ud7af]+x",
    r"(?i)^https://crm\.lender\.example/customer/(.*)$", r"(?i)^(.*)customer/.*$",  # migration 0010's globs
]


@pytest.mark.parametrize(("pattern", "construct", "_text"), DANGEROUS)
def test_a_save_with_a_pattern_that_is_not_linear_is_refused_naming_the_construct(
        pattern: str, construct: str, _text: str) -> None:
    for key in ("case_id_patterns", "customer_url_patterns"):
        problem = policy_problem({key: [r"/ok/(\d+)", pattern]})
        assert problem is not None and construct in problem, problem
        assert f"policy '{key}'" in problem and repr(pattern) in problem and "hang" in problem
        with pytest.raises(PolicyError, match=re.escape(construct)):
            Policy.parse({key: [pattern]}, strict=True)
        with pytest.raises(PolicyError):
            Policy(**{key: (pattern,)})


@pytest.mark.parametrize("pattern", SAFE)
def test_the_patterns_admins_write_are_accepted(pattern: str) -> None:
    assert unsafe_construct(pattern) is None
    assert policy_problem({"customer_url_patterns": [pattern]}) is None


@pytest.mark.parametrize(("pattern", "_construct", "text"), DANGEROUS)
def test_a_stored_unsafe_pattern_is_left_out_on_every_side_and_the_crafted_text_is_cheap(
        pattern: str, _construct: str, text: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    stored = {"version": 9, "case_id_patterns": [pattern, r"\b(C-\d{4}-\d{7})\b"],
              "customer_url_patterns": [pattern, r"/customers?/(\d+)"]}
    before = disabled_pattern_count()
    for reader in (Policy.parse, AgentPolicy.from_dict, DetectorPolicy.from_dict):
        policy = reader(stored)
        assert policy.case_id_patterns == (r"\b(C-\d{4}-\d{7})\b",)
        assert policy.customer_url_patterns == (r"/customers?/(\d+)",)
        assert len(policy.disabled_patterns) == 2 and pattern in policy.disabled_patterns[0]
        started = time.process_time()  # CPU time: the cost, not the machine's load
        for _ in range(5):
            assert policy.find_case_id(text, "C-2024-0000001") == "C-2024-0000001"
            assert policy.mentions_case(text) is False
            assert policy.find_customer(text + "/customers/42") in (None, "42")
            policy.is_customer_url(text)
        assert time.process_time() - started < 0.25, "the crafted text took too long"
    assert disabled_pattern_count() == before + 2  # one per key, however often it is read
    assert caplog.text.count(f"regular expression {pattern!r} left out") == 2
    assert b"seatguard_policy_patterns_left_out" in Metrics().render()


def test_the_crafted_texts_would_have_hung_the_patterns_unchecked() -> None:
    """What the check stops: the same texts against the same patterns in Python's engine (shortened)."""
    slow = {r"(a+)+$": "a" * 22 + "!", r"a.*b.*c": "ab" * 600}
    for pattern, text in slow.items():
        started = time.perf_counter()
        re.search(pattern, text)
        assert time.perf_counter() - started > 0.02, pattern


def test_a_long_title_is_searched_window_by_window() -> None:
    """Past MAX_MATCH_CHARS the search goes on in overlapping windows (tests/test_policy_long_texts.py)."""
    policy = Policy.parse({"case_id_patterns": [r"(C-\d{4}-\d{7})"]})
    case = "C-2024-0000001"
    assert policy.find_case_id("x" * (MAX_MATCH_CHARS - len(case)) + case) == case
    assert policy.find_case_id("x" * MAX_MATCH_CHARS + case) == case


def test_the_api_answers_an_unsafe_save_with_400_naming_the_construct(tmp_path: Path) -> None:
    world = World(tmp_path / "collector")
    try:
        bearer = {"Authorization": f"Bearer {world.collector.accounts.create_token('root')}"}
        before = world.collector.policy.current()
        answer = world.client.post("/api/v1/policy", headers=bearer,
                                   json={"policy": {"case_id_patterns": [r"(\w+\s?)+$"]}})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_policy"
        assert "nested quantifier" in answer.json()["error"]["message"]
        assert world.collector.policy.current() == before
        good = world.client.post("/api/v1/policy", headers=bearer,
                                 json={"policy": {"case_id_patterns": [r"\b(C-\d{4}-\d{7})\b", r"CASE#(\d+)"]}})
        assert good.status_code == 200, good.text
        assert world.collector.policy.current()["case_id_patterns"][1] == r"CASE#(\d+)"
    finally:
        world.close()


_PIECES = ["a", "b", "ab", ".", r"\d", r"\w", r"\s", "[ab]", "[^a]", "(", ")", "(?:", "|", "*", "+", "?", "{2}",
           "{1,3}", "^", "$", r"\b", "x", "-"]


def accepted(pieces: list[str]) -> str | None:
    """The pattern the pieces make, when it compiles and the check accepts it; None otherwise."""
    pattern = "".join(pieces)
    try:
        re.compile(pattern)
    except re.error:
        return None
    return pattern if unsafe_construct(pattern) is None else None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=9))
def test_every_pattern_the_check_accepts_searches_a_crafted_text_fast(pieces: list[str]) -> None:
    """The check never fails on a pattern that compiles, and what it lets through stays fast on the texts
    that make Python's engine backtrack most (runs of the pattern's own characters, then a mismatch)."""
    pattern = accepted(pieces)
    if pattern is None:
        return
    policy = Policy.parse({"case_id_patterns": [pattern]}, strict=True)
    started = time.process_time()
    for text in ("a" * 3000, "ab" * 1500, "a1 " * 1000, "ab-x" * 700 + "\n!", "x" * 2047 + "\n"):
        policy.mentions_case(text)
    assert time.process_time() - started < 1.0, pattern
