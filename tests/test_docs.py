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


def _layout() -> str:
    start = README.index("## Layout\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_layout_names_every_folder_and_module() -> None:
    """Every package folder and every module of the six packages is named in the Layout section."""
    root = Path(__file__).resolve().parent.parent
    layout = _layout()
    missing = []
    for package in ("contract", "agent", "collector", "detectors", "simulator"):
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root)
            if "migrations" in rel.parts[:-1] and rel.parts[1] == "migrations" and len(rel.parts) > 3:
                continue  # alembic revisions: the folder is named, not each revision
            if path.name == "__init__.py":
                if f"{path.parent.name}/" not in layout:
                    missing.append(f"{rel.parent}/")
            elif path.stem not in ("env",) and not re.search(rf"\b{re.escape(path.stem)}\b", layout):
                missing.append(str(rel))
    for folder in ("tests/", "bench/", "packaging/", "scripts/", ".ci/run"):
        if folder not in layout:
            missing.append(folder)
    assert not missing, f"README's Layout section does not name: {', '.join(missing)}"


def test_layout_says_where_each_new_piece_goes() -> None:
    layout = _layout()
    for piece in ("event kind", "sensor", "detector", "alert channel", "page", "storage backend",
                  "ingest listener", "setting", "policy key"):
        assert re.search(rf"^\| {piece} \|", layout, re.M), f"Layout does not say where a new {piece} goes"
