"""A stored pattern that every reader leaves out (its matching is not linear) is shown to the admin.

Such a pattern is dropped silently from what the sensors and the detectors search (a warning in a log, a
counter): the policy editor still shows it as if in force. One way to get there without an admin ever
saving it: a customer URL glob with three ``*`` stored before revision 0010, which 0010 turned into a
regular expression that :mod:`contract.regex_safety` refuses. When it was the only customer pattern,
customer pages are no longer seen at all.
"""

from __future__ import annotations

import html
import importlib
from pathlib import Path

import pytest

from collector.policy import DEFAULT_POLICY, PolicyService, left_out
from collector.storage import schema
from collector.storage.policy_versions import PolicyVersion
from contract.policy import Policy
from contract.signed_policy import policy_hash
from tests.storage_fixtures import BACKENDS, fresh_url, sql_store
from tests.web_fixtures import World, signed_in

m0010 = importlib.import_module("collector.migrations.versions.v0010_one_policy")
GLOB = "https://*.crm.example/*/customer/*"
URL = "https://eu.crm.example/retail/customer/4711"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_glob_0010_converted_into_a_refused_regex_is_named_as_left_out(backend: str, tmp_path: Path) -> None:
    with fresh_url(backend, tmp_path / "db") as url:
        store = sql_store(url)
        try:
            store.create_schema()
            with store._write() as conn:
                schema.downgrade(conn, "0009")
            body = {"version": 4, "customer_url_patterns": [GLOB]}
            store.policy_versions.save(1, [PolicyVersion(1, DEFAULT_POLICY, policy_hash(DEFAULT_POLICY), 1.0),
                                           PolicyVersion(4, body, policy_hash(body), 2.0)], "admin")
            store.migrate()
            now = PolicyService(store).current()
            converted = m0010.glob_to_regex(GLOB)
            assert now["customer_url_patterns"] == [converted, GLOB]  # 0012 put the glob back as a regex too
            read = Policy.parse(now)
            assert read.customer_url_patterns == (GLOB,) and not read.is_customer_url(URL)  # detection gone
            named = left_out(now)
            assert len(named) == 1 and named[0].startswith(f"customer_url_patterns: {converted}: two quantifiers")
        finally:
            store.close()


def test_the_admin_page_and_the_policy_api_name_the_left_out_patterns(tmp_path: Path) -> None:
    world = World(tmp_path / "collector")
    try:
        bearer = {"Authorization": f"Bearer {world.collector.accounts.create_token('root')}"}
        clean = world.client.get("/api/v1/policy", headers=bearer).json()
        assert clean["left_out"] == []
        admin = signed_in(world.app, "root")
        assert 'id="policy-left-out"' not in admin.get("/admin").text
        unsafe = m0010.glob_to_regex(GLOB)
        world.collector.policy.update({"customer_url_patterns": [unsafe, r"/customers?/(\d+)"]})  # as stored
        answer = world.client.get("/api/v1/policy", headers=bearer).json()
        assert answer["policy"]["customer_url_patterns"][0] == unsafe
        assert len(answer["left_out"]) == 1 and answer["left_out"][0].startswith(f"customer_url_patterns: {unsafe}")
        page = admin.get("/admin").text
        assert 'id="policy-left-out"' in page and unsafe in html.unescape(page)
    finally:
        world.close()
