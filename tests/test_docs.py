"""The README documents every setting exactly as the code's settings tables define them."""

from __future__ import annotations

import re
from pathlib import Path

from agent.config import settings_markdown as agent_settings
from collector.config import settings_markdown as collector_settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _section(name: str) -> str:
    match = re.search(rf"<!-- {name} -->\n(.*?)\n<!-- /{name} -->", README, re.S)
    assert match, f"README has no {name} section"
    return match.group(1).strip()


def test_collector_settings_are_documented() -> None:
    assert _section("collector-settings") == collector_settings()


def test_agent_settings_are_documented() -> None:
    assert _section("agent-settings") == agent_settings()


def test_readme_names_the_two_commands_and_ci_uses_them() -> None:
    assert "make demo" in README and "make test" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_policy_keys_are_documented() -> None:
    from contract.policy import markdown as policy_keys

    assert _section("policy-keys") == policy_keys()
