"""Padding a URL or title does not hide a customer or a case from the policy's patterns, at a bounded cost.

The patterns are searched in windows of ``MAX_MATCH_CHARS`` that overlap (``contract.regex_safety.search``),
not in the first ``MAX_MATCH_CHARS`` characters only: an insider who pads a query string before the customer
id (``?pad=xxx...&cid=4711``) or a path before ``/customers/`` would otherwise open customer pages unseen.
"""

from __future__ import annotations

import time
from pathlib import Path

from agent.sensors.policy import AgentPolicy
from contract.policy import Policy
from contract.regex_safety import MAX_ANCHORED_CHARS, MAX_FOUND_CHARS, MAX_MATCH_CHARS, MAX_SEARCHED_CHARS
from detectors.need_to_know import NO_CUSTOMER
from detectors.policy import Policy as DetectorPolicy
from tests.web_fixtures import World

STORED = {"version": 3, "customer_url_patterns": [r"/customers?/(\d+)", r"[?&]cid=(\d+)"],
          "case_id_patterns": [r"\b(C-\d{4}-\d{7})\b"]}
CASE = "C-2024-0000001"


def padded_urls(pad: int) -> list[str]:
    return [f"https://crm.internal/view?pad={'x' * pad}&cid=4711",  # the query string padded before the id
            "https://crm.internal/" + "/" * pad + "customers/4711"]  # servers merge the slashes


def test_a_customer_id_after_padding_is_found_on_every_side() -> None:
    for reader in (Policy.parse, AgentPolicy.from_dict, DetectorPolicy.from_dict):
        policy = reader(STORED)
        for pad in (MAX_MATCH_CHARS, 3 * MAX_MATCH_CHARS + 17, 8000):
            for url in padded_urls(pad):
                assert policy.find_customer(url) == "4711", (reader, pad, url[:40])
                assert policy.is_customer_url(url), (reader, pad)
            title = "x" * pad + f" {CASE} notes"
            assert policy.find_case_id(title) == CASE and policy.mentions_case("", title)


def test_a_window_end_inside_a_longer_id_does_not_make_up_a_case_or_cut_a_customer() -> None:
    """``\\b`` and ``$`` hold at a window's end: a match there is looked for again in the next window."""
    policy = Policy.parse(STORED)
    for cut in range(MAX_MATCH_CHARS - 20, MAX_MATCH_CHARS + 2):
        longer = "x" * (cut - 14) + "C-2024-00000012345"  # 11 digits: no case ID, whatever the window
        assert policy.find_case_id(longer + " " + "y" * 2000) is None, cut
        url = "https://crm.internal/" + "a" * (cut - 32) + "/customers/123456789" + "/b" * 1000
        assert policy.find_customer(url) == "123456789", cut


def test_a_match_up_to_the_overlap_long_is_found_wherever_it_lies() -> None:
    policy = Policy.parse({"case_id_patterns": [r"CASE:(\w+)"]})
    case = "CASE:" + "k" * (MAX_FOUND_CHARS - 5)
    for start in range(0, 4 * MAX_MATCH_CHARS, 97):
        assert policy.find_case_id("-" * start + case + "-") == case[5:], start


def test_long_texts_cost_linear_time_at_most() -> None:
    """The accepted worst cases over the longest text a field may hold (and far past it: cut there)."""
    for pattern in (r"\d+x", r"[^/]+/customers?/(\d+)", r".*customer.*"):
        p = Policy.parse({"customer_url_patterns": [pattern]}, strict=True)
        started = time.process_time()  # CPU time: what the search costs, whatever else the machine runs
        assert p.find_customer("1" * MAX_SEARCHED_CHARS) in (None, "")
        assert p.find_customer("1" * 1_000_000) in (None, "")
        assert time.process_time() - started < 2.0, pattern


def test_the_collector_keys_the_customer_of_a_padded_url_at_ingest(tmp_path: Path) -> None:
    world = World(tmp_path / "collector")
    try:
        bearer = {"Authorization": f"Bearer {world.collector.accounts.create_token('root')}"}
        saved = world.client.post("/api/v1/policy", headers=bearer, json={"policy": {
            "customer_url_patterns": STORED["customer_url_patterns"]}})
        assert saved.status_code == 200, saved.text
        plain = world.collector.rollups.customer("pc-1", {"kind": "page.open", "url": padded_urls(0)[0]})
        for url in padded_urls(2 * MAX_MATCH_CHARS):
            ref = world.collector.rollups.customer("pc-1", {"kind": "page.open", "url": url})
            assert ref is not None and ref != NO_CUSTOMER and ref == plain, url[:40]
    finally:
        world.close()


def test_a_glob_padded_before_its_literal_is_found_within_a_web_servers_url_limit() -> None:
    """Migration 0010's globs are anchored (``^(.*)/customer/.*$``): no window but the first may match, so
    they are searched in the first MAX_ANCHORED_CHARS at once (8 KiB: what web servers take in a request
    line), where padding the path (``//...//customer/4711``, servers merge the slashes) used to hide the page."""
    policy = Policy.parse({"customer_url_patterns": [r"(?i)^(.*)/customer/.*$"]}, strict=True)
    for pad in (MAX_MATCH_CHARS, MAX_ANCHORED_CHARS - 100):
        url = "https://crm.example/" + "/" * pad + "/customer/4711"
        assert policy.is_customer_url(url), pad
        assert policy.find_customer(url) == url[:url.index("/customer/")]
    started = time.process_time()
    for pattern in (r"^\w+\d+x", r"^.*a.*b"):  # one pair of trading quantifiers: what an anchored one may have
        p = Policy.parse({"case_id_patterns": [pattern]}, strict=True)
        assert p.find_case_id("1" * MAX_SEARCHED_CHARS, "a" * MAX_SEARCHED_CHARS) is None
    assert time.process_time() - started < 2.0
