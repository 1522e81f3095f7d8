"""One policy table (contract.policy): validated once, one meaning per key, read by every side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from collector.policy import DEFAULT_POLICY, known_policy_keys, policy_problem
from contract.policy import Policy, PolicyError, key_names, keys, markdown, settings_table

ROOT = Path(__file__).resolve().parent.parent


def test_parse_fills_defaults_and_normalises_once() -> None:
    policy = Policy.parse({"version": 7, "idle_threshold_s": 2, "allowed_apps": ["CRM.exe", "chrom*"]})
    assert policy.idle_threshold_s == 2.0 and isinstance(policy.idle_threshold_s, float)
    assert policy.allowed_apps == ("CRM.exe", "chrom*")
    assert policy.night_start == "22:00" and policy.stop_grace_min == 10
    assert Policy.parse(policy.to_dict()) == policy
    assert Policy.parse(None) == Policy()
    assert hash(Policy.parse(policy.to_dict())) == hash(policy)


def test_the_served_default_is_the_contract_default() -> None:
    served = Policy.parse(DEFAULT_POLICY)
    assert served == Policy(), "DEFAULT_POLICY and the contract's defaults disagree"
    assert policy_problem({k: v for k, v in DEFAULT_POLICY.items() if k != "version"}) is None


@pytest.mark.parametrize(("data", "message"), [
    ("not an object", "must be a JSON object"),
    ({"case_id_patterns": ["(unclosed"]}, "bad regular expression"),
    ({"customer_url_patterns": ["*/customer/*"]}, "bad regular expression"),
    ({"allowed_apps": "crm"}, "list of strings"),
    ({"allowed_sites": [1]}, "every item must be a string"),
    ({"screenshot_triggers": ["every_minute"]}, "unknown trigger"),
    ({"process_categories": {"games": ["*"]}}, "unknown categories"),
    ({"process_categories": ["anydesk*"]}, "category -> list of globs"),
    ({"idle_threshold_s": True}, "must be a number"),
    ({"paste_window_s": 0}, "> 0 seconds"),
    ({"shift_grace_min": 181}, "<= 180"),
    ({"silence_min_gap_min": 0}, ">= 1"),
    ({"stop_grace_min": 1.5}, "whole number"),
    ({"night_start": "25:00"}, "HH:MM"),
    ({"clear_sensitive_copies": "yes"}, "true or false"),
    # numbers a JSON reader may hand over (Python's json: NaN, Infinity, integers of any size)
    ({"screenshot_max_per_hour": float("nan")}, "finite number"),
    ({"screenshot_max_per_hour": float("inf")}, "finite number"),
    ({"idle_threshold_s": float("nan")}, "finite number"),
    ({"idle_threshold_s": 10**400}, "finite number"),
    ({"shift_grace_min": -10**400}, ">= 0"),
    ({"process_categories": {1: ["x"]}}, "unknown categories"),
])
def test_a_bad_key_is_refused_naming_the_key_and_the_reason(data: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.parse(data)
    if isinstance(data, dict):
        problem = policy_problem(data)
        assert problem is not None and message in problem and next(iter(data)) in problem


def test_unknown_keys_are_refused_on_save_and_skipped_when_read() -> None:
    assert Policy.parse({"from_a_newer_collector": 1}) == Policy()
    with pytest.raises(PolicyError, match="unknown policy key"):
        Policy.parse({"remote_access_apps": ["teamviewer"]}, strict=True)
    assert known_policy_keys() == set(key_names()) and "customer_url_patterns" in known_policy_keys()


def test_one_meaning_per_pattern_kind() -> None:
    policy = Policy.parse({
        "customer_url_patterns": [r"/customers?/(\d+)", r"(?i)crm\.lender\.example/client/([A-Z0-9]+)"],
        "case_id_patterns": [r"CASE-(\d{4})"],
        "allowed_apps": ["crm*", "Notepad.exe"], "allowed_sites": ["lender.example", "*.kb.internal"],
        "process_categories": {"remote_access": ["teamviewer*"]}})
    assert policy.find_customer("https://crm/customer/123?tab=2") == "123"
    assert policy.find_customer("https://CRM.LENDER.EXAMPLE/client/AB12") == "AB12"
    assert policy.find_customer("https://crm/cases/1") is None and not policy.is_customer_url("")
    assert policy.find_case_id("", "Loan CASE-2041") == "2041"
    assert policy.is_allowed_app("C:\\Program Files\\CRM\\CRM.EXE") and policy.is_allowed_app("notepad")
    assert not policy.is_allowed_app("notepad++")  # a plain name is that name only
    assert policy.is_allowed_host("lender.example") and policy.is_allowed_host("crm.lender.example")
    assert not policy.is_allowed_host("evil-lender.example") and not policy.is_allowed_host("kb.internal")
    assert policy.is_allowed_host("www.kb.internal")
    assert policy.category_of("TeamViewer.exe") == "remote_access"
    assert policy.category_of("obs64.exe") == "screen_capture"  # a category left out keeps its defaults
    assert policy.category_of("obsidian") == "other" and policy.category_of("wxwork") == "messaging"
    assert policy.is_messaging_app("WeChat.exe") and policy.is_messaging_app("tim")
    assert Policy(allowed_apps=(), allowed_sites=()).is_allowed_app("anything")


def test_every_key_is_documented_with_its_kind_reader_and_help() -> None:
    assert [row[0] for row in settings_table()] == list(Policy().to_dict())
    for f in keys():
        assert f.metadata["side"] in ("agent", "detectors", "both"), f.name
        assert f.metadata["help"].endswith("."), f.name
    assert all(f"`{f.name}`" in markdown() for f in keys())


def test_the_collector_validates_a_policy_without_any_sensor_library() -> None:
    code = ("import sys; import collector.policy, collector.service; p = collector.policy.policy_problem("
            "{'idle_threshold_s': 0}); assert 'idle_threshold_s' in p, p; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('agent', 'simulator', 'psutil', 'watchdog', 'pynput', 'mss', 'Xlib')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
