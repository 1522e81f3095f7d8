"""The demo path in reduced size: simulated fleet -> real enrollment -> real replay -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.demo import run_demo
from tests.conftest import DATA_DIRS, free_port


@pytest.mark.slow
def test_demo_stores_every_simulated_event_and_builds_the_report(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    summary = run_demo(root, agents=8, days=4, seed=11, port=free_port(), serve=False)
    DATA_DIRS.append(root / "collector")
    assert summary["events"] == summary["simulated"] > 1000
    report = Path(summary["report_html"])
    assert report.exists() and "<html" in report.read_text(encoding="utf-8").lower()
    truth = json.loads((root / "fleet" / "ground_truth.json").read_text(encoding="utf-8"))
    assert truth["scenarios"], "the default fleet carries injected scenarios"
    assert {p["role"] for p in summary["people"]} == {"security", "manager", "auditor"}
    # a second run resets cleanly instead of failing or doubling
    again = run_demo(root, agents=8, days=4, seed=11, port=free_port(), serve=False)
    assert again["events"] == summary["events"]
