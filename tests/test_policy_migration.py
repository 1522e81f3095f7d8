"""Revision 0010 saves the stored policy in force again in the one reading of contract.policy."""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path

import pytest

from collector.policy import DEFAULT_POLICY, PolicyService
from collector.storage import schema
from collector.storage.policy_versions import PolicyVersion
from contract.policy import Policy
from contract.signed_policy import policy_hash
from tests.storage_fixtures import BACKENDS, fresh_url, sql_store

m0010 = importlib.import_module("collector.migrations.versions.v0010_one_policy")

OLD = {
    "version": 4, "idle_threshold_s": 120,
    "customer_url_patterns": ["https://crm.lender.example/customer/*", r"/clients?/(\d+)", "/account/"],
    "remote_access_apps": ["TeamViewer", "mstsc"],
    "screen_capture_apps": ["evcapture"],
    "process_categories": {"screen_capture": ["obs64*"]},
}


def test_glob_patterns_become_the_regular_expressions_matching_the_same_urls() -> None:
    rx = re.compile(m0010.glob_to_regex("https://crm.lender.example/customer/*"))
    found = rx.search("HTTPS://crm.lender.example/customer/8812?tab=1")
    assert found and found.group(1) == "8812?tab=1"
    assert not rx.search("https://crm-lender.example/customer/1")  # the dot is a dot again
    assert not rx.search("https://evil.example/?u=https://crm.lender.example/customer/1")  # the whole URL
    assert re.fullmatch(m0010.glob_to_regex("*/c?se/[!x]*"), "https://a/case/1")
    assert not m0010.is_glob(r"/clients?/(\d+)") and not m0010.is_glob("/account/")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_old_style_policy_is_saved_again_in_the_one_reading(backend: str, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with fresh_url(backend, tmp_path / "db") as url:
        store = sql_store(url)
        try:
            store.create_schema()
            with store._write() as conn:
                schema.downgrade(conn, "0009")
            store.policy_versions.save(1, [
                PolicyVersion(1, DEFAULT_POLICY, policy_hash(DEFAULT_POLICY), 1.0),
                PolicyVersion(4, OLD, policy_hash(OLD), 2.0)], "admin")
            with store._write() as conn:
                schema.upgrade(conn, "0011")  # what 0010 did before 0012 came (tests/test_policy_migration_0012.py)
            service = PolicyService(store)
            now = service.current()
            assert now["version"] == 5
            assert "remote_access_apps" not in now and "screen_capture_apps" not in now
            assert now["customer_url_patterns"] == [
                r"(?i)^https://crm\.lender\.example/customer/(.*)$", r"/clients?/(\d+)", "/account/"]
            policy = Policy.parse(now, strict=False)
            assert policy.find_customer("https://crm.lender.example/customer/77") == "77"
            assert policy.find_customer("https://crm/client/9") == "9"
            assert policy.category_of("TeamViewer.exe") == policy.category_of("mstsc") == "remote_access"
            assert policy.category_of("AnyDesk") == "remote_access"  # the defaults stay
            assert policy.category_of("EVCapture.exe") == policy.category_of("obs64") == "screen_capture"
            assert policy.category_of("bandicam") == "other"  # a stored category keeps its own globs only
            assert policy.idle_threshold_s == 120.0
            issued = service.issued()
            assert issued[4][0] == policy_hash(OLD), "the version handed out stays as it was"
            assert issued[5][0] == policy_hash(now)
            assert "glob 'https://crm.lender.example/customer/*' -> regular expression" in caplog.text
            assert "'/account/' kept as a regular expression" in caplog.text
            assert "saved as version 5" in caplog.text
            with store._write() as conn:
                schema.downgrade(conn, "0009")
            assert store.policy_versions.newest_version() == 4
        finally:
            store.close()


def test_a_policy_in_the_one_reading_is_left_alone(tmp_path: Path) -> None:
    with fresh_url("sqlite", tmp_path / "db") as url:
        store = sql_store(url)
        try:
            store.create_schema()
            with store._write() as conn:
                schema.downgrade(conn, "0009")
            store.migrate()
            assert store.policy_versions.newest_version() is None  # nothing stored, nothing saved
            with store._write() as conn:
                schema.downgrade(conn, "0009")
            now = {**DEFAULT_POLICY, "version": 2, "customer_url_patterns": [r"/customers?/(\d+)"]}
            store.policy_versions.save(1, [PolicyVersion(2, now, policy_hash(now), 1.0)], None)
            store.migrate()
            assert store.policy_versions.newest_version() == 2
        finally:
            store.close()


@pytest.mark.parametrize(("glob", "url"), [
    ("https://x/[!]*", "https://x/[!]7"),        # no closing bracket after the first member: all literal
    ("https://x/[!]]*", "https://x/a7"),          # "]" first in a negated class is a member
    ("https://x/[]]*", "https://x/]7"),
    ("https://x/[^a]*", "https://x/^7"),          # "^" is a member of a glob's class, not a negation
    ("https://x/[!a]*", "https://x/b7"),
    ("https://x/c[", "https://x/c["),
])
def test_every_rewritten_glob_is_a_regular_expression_matching_what_the_glob_matched(glob: str, url: str) -> None:
    """A stored policy whose pattern became an invalid regular expression would stop every rollup."""
    import fnmatch

    rx = re.compile(m0010.glob_to_regex(glob))
    assert fnmatch.fnmatchcase(url.lower(), glob.lower())
    assert rx.search(url)
    for other in ("https://x/a7", "https://x/b7", "https://x/^7", "https://x/]7", "https://x/[!]7"):
        assert bool(rx.search(other)) == fnmatch.fnmatchcase(other.lower(), glob.lower()), other


def test_a_glob_class_no_regular_expression_carries_is_rewritten_as_fnmatch_reads_it() -> None:
    policy, _notes = m0010.rewrite({"customer_url_patterns": ["https://x/[z-a]*", "https://x/c/*"]})
    rx = [re.compile(p) for p in policy["customer_url_patterns"]]
    assert not rx[0].search("https://x/b1") and rx[1].search("HTTPS://x/c/9").group(1) == "9"
    assert Policy.parse(policy, strict=True).customer_url_patterns == tuple(policy["customer_url_patterns"])
