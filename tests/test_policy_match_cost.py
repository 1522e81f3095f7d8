"""What a PC sends cannot make the policy's pattern searches cost more than a bounded amount, nor hide a
customer page from them (``contract.pattern_search``, ``contract.regex_re2``).

RE2 searches long ASCII texts with Python's meaning (checked here against Python's own engine on the same
windows); what RE2 cannot judge goes to Python's engine under a time budget per event and per batch, and a
search the budget cuts short fails closed: the URL counts as a customer page of an unknown customer.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.metrics import Metrics
from contract.pattern_search import SHORT_CHARS, UNJUDGED, PolicyPattern, Unjudged, batch_budget, unjudged_count
from contract.policy import Policy, customer_in
from contract.regex_re2 import available, translate
from contract.regex_safety import MAX_MATCH_CHARS, MAX_SEARCHED_CHARS, search, unsafe_construct
from contract.schema import validate_event
from detectors.context import AgentContext
from detectors.need_to_know import NO_CUSTOMER, CustomerKeyer
from detectors.policy import Policy as DetectorPolicy
from detectors.rollup import DayRollup
from tests.test_policy_regex_safety import SAFE, accepted

ROOT = Path(__file__).resolve().parent.parent
needs_re2 = pytest.mark.skipif(not available(), reason="google-re2 is not installed (the collector extra has it)")

# the worst patterns the safety check accepts, and the character a crafted URL repeats against each
WORST = [(r"\d+x", "1"), (r"[^/]+/customers?/(\d+)", "a"), (r".*customer.*", "c"), (r"\w+@\d+x", "a")]


def _crafted(ch: str, n: int = MAX_SEARCHED_CHARS) -> str:
    return ("https://crm.internal/" + ch * n)[:n]


def test_the_worst_patterns_are_accepted_and_were_slow_in_pythons_engine() -> None:
    """The figures this guards against: Python's engine on one crafted 16 KiB URL (a quarter of the longest)."""
    for pattern, ch in WORST[:1]:
        assert unsafe_construct(pattern) is None
        started = time.perf_counter()
        search(re.compile(pattern), _crafted(ch, 16384))
        assert time.perf_counter() - started > 0.02, pattern


@needs_re2
def test_a_hostile_64_kib_url_costs_about_a_millisecond_and_is_judged() -> None:
    for pattern, ch in WORST:
        p = Policy.parse({"customer_url_patterns": [pattern]}, strict=True)
        assert p.customer_res[0].fast is not None, pattern
        url = _crafted(ch)
        before = unjudged_count()
        started = time.perf_counter()
        for _ in range(5):
            assert p.find_customer(url) is None
            assert p.is_customer_url(url) is False
        assert (time.perf_counter() - started) / 10 < 0.02, pattern  # ~0.3 ms; was 100-700 ms
        assert unjudged_count() == before


@needs_re2
def test_a_customer_page_padded_with_hostile_junk_is_still_found() -> None:
    p = Policy.parse({"customer_url_patterns": [r"[^/]+/customers?/(\d+)", r"[?&]cid=(\d+)"]}, strict=True)
    for pad in (SHORT_CHARS, MAX_MATCH_CHARS, 3 * MAX_MATCH_CHARS + 17, MAX_SEARCHED_CHARS - 200):
        for url in ("https://crm.internal/" + "a" * pad + "/customers/4711",
                    "https://crm.internal/view?pad=" + "1" * pad + "&cid=4711"):
            url = url[:MAX_SEARCHED_CHARS]
            started = time.perf_counter()
            assert p.find_customer(url) == "4711", pad
            assert p.is_customer_url(url)
            assert time.perf_counter() - started < 0.05, pad


@needs_re2
def test_a_batch_of_hostile_urls_costs_a_bounded_time() -> None:
    """2,000 crafted URLs of 3,000 characters (what 20,000 events at the inflate cap may carry each), asked
    twice each as ingest does: RE2 takes every one; Python's engine would take ~30 ms a URL."""
    p = Policy.parse({"customer_url_patterns": [r"\d+x"]}, strict=True)
    urls = [_crafted("1", 3000)[:-5] + f"{i:05d}" for i in range(2000)]
    before = unjudged_count()
    started = time.perf_counter()
    with batch_budget():
        for url in urls:
            assert customer_in(url, p.customer_res) is None
            assert customer_in(url, p.customer_res) is None
    assert time.perf_counter() - started < 2.0  # ~0.1 s
    assert unjudged_count() == before


def test_what_cannot_be_judged_in_time_counts_as_a_customer_page_of_an_unknown_customer(
        caplog: pytest.LogCaptureFixture) -> None:
    """A URL RE2 cannot take (a character outside ASCII) goes to Python's engine, whose budget runs out: the
    search is unjudged, counted, logged, and the page counts as a customer's, keyed apart from any customer."""
    pattern = r"[^/]+/customers?/(\d+)"
    p = Policy.parse({"customer_url_patterns": [pattern]}, strict=True)
    url = _crafted("a")[:-10] + "é" + "a" * 9
    before = unjudged_count()
    with caplog.at_level(logging.WARNING, logger="contract.pattern_search"):
        started = time.perf_counter()
        assert p.find_customer(url) is UNJUDGED
        assert time.perf_counter() - started < 0.1  # the event's 5 ms and one window; ~100-150 ms unbounded
    assert p.is_customer_url(url) is True  # the agent: a copy on it is a copy on a customer page
    assert unjudged_count() > before
    assert f"pattern {pattern!r}: a text of {MAX_SEARCHED_CHARS} characters could not be judged" in caplog.text
    assert b"seatguard_policy_texts_unjudged" in Metrics().render()
    keyer = CustomerKeyer(b"s" * 32)
    ref = keyer.find(url, p.customer_res)
    assert ref is not None and ref != NO_CUSTOMER and ref == keyer.unjudged(url) != keyer.unjudged(url + "b")
    assert ref != keyer.ref("4711")
    with pytest.raises(TypeError, match="neither a match nor none"):
        bool(UNJUDGED)
    # the detectors fold it as a customer page opened without a case (keyed at ingest, or by themselves)
    policy = DetectorPolicy.from_dict({"customer_url_patterns": [pattern]})
    for customer in (ref, None):
        r = DayRollup.new(AgentContext("a1", "team-1", policy=policy), date(2024, 5, 6))
        r.add(validate_event({"schema": 1, "agent_id": "a1", "seq": 1, "ts": "2024-05-06T09:00:00.000+08:00",
                              "kind": "page.open", "url": url, "title": "t", "app": "chrome.exe"}), customer)
        f = r.features()
        assert f["customer_pages"] == 1 and f["pages_without_case"] == 1, customer


def test_a_spent_batch_budget_leaves_only_what_re2_judges_and_counts_the_rest() -> None:
    p = Policy.parse({"customer_url_patterns": [r"/customers?/(\d+)"]}, strict=True)
    with batch_budget(0.0):
        assert p.find_customer("https://crm.internal/customers/4711") == ("4711" if available() else UNJUDGED)
        assert p.find_customer("https://crm.internal/kunde/é/customers/4711") is UNJUDGED
        assert p.find_customer("https://crm.internal/") is (None if available() else UNJUDGED)
    assert p.find_customer("https://crm.internal/kunde/é/customers/4711") == "4711"  # no batch: judged


def test_the_case_question_on_an_unjudged_text_finds_no_case() -> None:
    """Fail closed for need-to-know: a page whose title cannot be judged counts as opened without a case."""
    p = Policy.parse({"case_id_patterns": [r"\b(C-\d{4}-\d{7})\b"]}, strict=True)
    with batch_budget(0.0):
        assert p.mentions_case("é C-2024-0000001") is False
        assert p.find_case_id("é C-2024-0000001") is None
    assert p.mentions_case("é C-2024-0000001") is True


# ---- RE2 means what Python means -------------------------------------------------------------------

_PIECES = ["a", "b", "ab", ".", r"\d", r"\w", r"\s", "[ab]", "[^a]", "(", ")", "(?:", "|", "*", "+", "?", "{2}",
           "{1,3}", "^", "$", r"\b", r"\B", "x", "-", "(?i)", "A", r"\Z", r"\A", "+?", "(?m)", "(?s)", "1"]
_TEXT = st.text(alphabet="abAB1x -_\n\t\x0b.", min_size=0, max_size=300)


def _same(pp: PolicyPattern, text: str) -> None:
    want = search(pp.rx, text)
    with batch_budget(0.0):  # Python's engine gets no time: RE2 answers, or the search is unjudged
        got = pp.search(text)
    if isinstance(got, Unjudged):
        head = text[:MAX_SEARCHED_CHARS]
        assert pp.fast is None or not head.isascii() or (pp.fast.dollar and "\n" in head), (pp, text)
        return
    if want is None or got is None:
        assert want is None and got is None, (pp, text, want, got)
        return
    assert (got.start(), got.end(), got.groups()) == (want.start(), want.end(), want.groups()), (pp, text)


@needs_re2
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8), st.lists(_TEXT, min_size=1, max_size=4),
       st.integers(0, 3 * MAX_MATCH_CHARS))
def test_re2_finds_what_pythons_engine_finds_in_the_same_windows(pieces: list[str], texts: list[str],
                                                                  pad: int) -> None:
    pattern = accepted(pieces)
    if pattern is None:
        return
    pp = PolicyPattern(pattern)
    for text in texts:
        _same(pp, text)
        _same(pp, "-" * pad + text)  # across window edges
        _same(pp, text + "ab" * (pad // 2) + text)


@needs_re2
def test_the_patterns_admins_write_have_an_re2_form_of_the_same_meaning() -> None:
    texts = ["https://crm.internal/customers/4711", "CASE - 12 and C-2024-0000001 x", "ticket #  88 TICKET:9",
             "a@b-c.de", "12-345x 3.14", "https://crm.lender.example/customer/77?x=1", "/abc/123", "abcd" * 400,
             "x" * 1500 + "/customer/5", "-" * 1020 + "C-2024-0000001 " + "y" * 2000]
    for pattern in SAFE:
        pp = PolicyPattern(pattern)
        if pattern.isascii():
            assert pp.fast is not None, pattern
        for text in texts:
            _same(pp, text)


@needs_re2
def test_patterns_re2_cannot_mean_the_same_stay_with_pythons_engine() -> None:
    for pattern in (r"(?>ab)c", r"a*+b"):  # atomic group, possessive: RE2 has neither
        assert unsafe_construct(pattern) is None
        assert translate(pattern) is None
        pp = PolicyPattern(pattern)
        assert pp.fast is None and pp.search("x" * 2000 + "abc") is not None
    fold = PolicyPattern("(?i)k")  # Python folds the Kelvin sign into k: RE2 is asked about ASCII texts only
    assert fold.search("x" * 2000 + "\u212a") is not None


def test_without_re2_every_search_is_pythons_under_the_budget(tmp_path: Path) -> None:
    """The agent's build (and a collector without the extra): no ``re2`` module, same answers, the same bound."""
    script = """
import json, sys, time
sys.modules["re2"] = None  # as if not installed
from contract.regex_re2 import available
from contract.pattern_search import UNJUDGED, batch_budget
from contract.policy import Policy
plain = Policy.parse({"customer_url_patterns": [r"/customers?/(\\d+)"]}, strict=True)
p = Policy.parse({"customer_url_patterns": [r"[^/]+/customers?/(\\d+)"]}, strict=True)
padded = "https://crm.internal/" + "a" * 30000 + "/customers/4711"
hostile = "https://crm.internal/" + "a" * 65000
started = time.perf_counter()
out = {"available": available(), "padded": repr(plain.find_customer(padded)),
       "padded_hostile": repr(p.find_customer(padded)), "hostile": p.find_customer(hostile) is UNJUDGED,
       "customer_page": p.is_customer_url(hostile), "one": time.perf_counter() - started}
started = time.perf_counter()
with batch_budget():
    out["batch"] = sum(p.find_customer(hostile) is UNJUDGED for _ in range(200))
out["two_hundred"] = time.perf_counter() - started
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["available"] is False
    assert out["padded"] == "'4711'" and out["hostile"] and out["customer_page"]
    assert out["padded_hostile"] in ("'4711'", "UNJUDGED")  # padding that Python's engine works on: fail closed
    assert out["one"] < 0.5  # four questions of ~5 ms and a window each (unbounded: ~0.1-0.6 s each)
    assert out["batch"] == 200 and out["two_hundred"] < 1.0  # the batch's 0.25 s, then none
