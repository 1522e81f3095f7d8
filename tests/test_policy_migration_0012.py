"""Revision 0012 gives back the regex reading of the customer URL patterns that 0010 read as globs."""

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
m0012 = importlib.import_module("collector.migrations.versions.v0012_customer_regex_reading")

# As the detectors searched them before 0010: a regex with "?" or "*" and none of 0010's regex-only signs
STORED = {
    "version": 4,
    "customer_url_patterns": ["/customers?/", "crm.example/client/.*", "profile", "*/account/*",
                              r"/loans?/(\d+)"],
}
URLS = {  # url -> the pattern whose regex reading found it before 0010
    "https://crm.lender.example/customers/8812": "/customers?/",
    "https://crm.example/client/77?tab=2": "crm.example/client/.*",
    "https://crm.lender.example/profile?id=3": "profile",
}


def _regex_reading_finds(url: str) -> bool:
    return any(re.search(p, url) for p in STORED["customer_url_patterns"])


def test_0010_read_a_metachar_free_regex_as_a_regex_but_one_with_a_question_mark_as_a_glob() -> None:
    rewritten, _notes = m0010.rewrite(STORED)
    after_0010 = Policy.parse(rewritten)
    assert after_0010.is_customer_url("https://crm.lender.example/profile?id=3")  # no wildcard: still a regex
    plain, _ = m0010.rewrite({"customer_url_patterns": ["customer"]})
    assert plain["customer_url_patterns"] == ["customer"]
    assert Policy.parse(plain).is_customer_url("https://crm.lender.example/customer-search")  # a substring
    for url, pattern in URLS.items():
        assert _regex_reading_finds(url), pattern
    lost = [u for u in URLS if not after_0010.is_customer_url(u)]
    assert lost == ["https://crm.lender.example/customers/8812", "https://crm.example/client/77?tab=2"]


def _at_0009_with(store: object, body: dict[str, object]) -> None:
    with store._write() as conn:  # type: ignore[attr-defined]
        schema.downgrade(conn, "0009")
    store.policy_versions.save(1, [  # type: ignore[attr-defined]
        PolicyVersion(1, DEFAULT_POLICY, policy_hash(DEFAULT_POLICY), 1.0),
        PolicyVersion(4, body, policy_hash(body), 2.0)], "admin")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("in_two_steps", [True, False], ids=["0010-ran-before", "0009-to-head"])
def test_the_lost_regex_readings_are_put_back_after_their_globs(
        backend: str, in_two_steps: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with fresh_url(backend, tmp_path / "db") as url:
        store = sql_store(url)
        try:
            store.create_schema()
            _at_0009_with(store, STORED)
            if in_two_steps:
                with store._write() as conn:
                    schema.upgrade(conn, "0011")
                assert store.migrate() == ("0011", schema.HEAD)
            else:
                assert store.migrate() == ("0009", schema.HEAD)
            service = PolicyService(store)
            now = service.current()
            assert now["version"] == 6
            assert now["customer_url_patterns"] == [
                r"(?i)^/customers./$", "/customers?/",
                m0010.glob_to_regex("crm.example/client/.*"), "crm.example/client/.*",
                "profile",
                r"(?i)^(.*)/account/.*$",  # no regular expression: only the glob ever matched
                r"/loans?/(\d+)",
            ]
            policy = Policy.parse(now, strict=True)  # what an admin's next save checks
            assert all(policy.is_customer_url(u) for u in URLS)
            assert policy.find_customer("https://crm.lender.example/customers/8812") == "/customers/"
            assert policy.find_customer("https://x/account/5") == "https://x"  # the glob's group 1, as before
            issued = service.issued()
            assert issued[6][0] == policy_hash(now) and 5 in issued and issued[4][0] == policy_hash(STORED)
            assert "'/customers?/' searched as a regular expression again" in caplog.text
            assert "saved as version 6" in caplog.text
            with store._write() as conn:
                schema.downgrade(conn, "0011")
            assert store.policy_versions.newest_version() == 5
        finally:
            store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_is_saved_when_nothing_was_lost_or_the_admin_removed_the_glob_since(
        backend: str, tmp_path: Path) -> None:
    with fresh_url(backend, tmp_path / "db") as url:
        store = sql_store(url)
        try:
            store.create_schema()
            _at_0009_with(store, {"version": 4, "customer_url_patterns": ["customer", "*/c/*"]})
            assert store.migrate() == ("0009", schema.HEAD)
            assert store.policy_versions.newest_version() == 5  # 0010's, nothing of 0012
        finally:
            store.close()
    with fresh_url(backend, tmp_path / "db2") as url:
        store = sql_store(url)
        try:
            store.create_schema()
            _at_0009_with(store, STORED)
            with store._write() as conn:
                schema.upgrade(conn, "0011")
            service = PolicyService(store)
            edited = service.update({"customer_url_patterns": [r"/customers?/(\d+)"]})
            assert edited["version"] == 6
            assert store.migrate() == ("0011", schema.HEAD)
            assert store.policy_versions.newest_version() == 6  # the admin's choice stays
        finally:
            store.close()
