"""The collector notices an agent running a policy it did not issue, or an outdated one (issue 17, item 2).

Real processes on loopback: a real collector, and either the real agent (whose person edited the policy in
its enrollment record) or sealed batches of heartbeats naming a chosen policy version and hash.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from collector.config import load_settings
from collector.policy import DEFAULT_POLICY
from collector.service import Collector
from contract.schema import format_ts
from contract.signed_policy import canonical, policy_hash
from tests.conftest import AGENT, COLLECTOR, FAST_AGENT_ENV, CollectorProcess, run_cli, wait_for
from tests.test_signed_answers import _admin, _events, _integrity, _record, _status, _write_record
from tests.web_fixtures import SimAgent


def _post(collector: CollectorProcess) -> Any:
    def post(path: str, body: bytes) -> requests.Response:
        return requests.post(collector.url + path, data=body, headers={"Content-Type": "application/json"},
                             timeout=10)

    return post


def _alerts(collector: CollectorProcess, headers: dict[str, str], agent_id: str, rule: str) -> list[dict[str, Any]]:
    alerts = requests.get(collector.url + "/api/v1/alerts", headers=headers, timeout=10).json()["alerts"]
    return [a for a in alerts if a["agent_id"] == agent_id and a["rule"] == rule]


def test_edited_policy_is_not_applied_and_the_collector_raises_policy_mismatch(collector: CollectorProcess,
                                                                             tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-edited")
    record = _record(home)
    edited = {**json.loads(record["signed_policy"]["text"]), "watched_folders": [], "clear_sensitive_copies": False}
    # the person at the PC rewrites the policy in their agent home (the signature no longer matches)
    _write_record(home, {**record, "policy": edited, "signed_policy": {**record["signed_policy"],
                                                                       "text": canonical(edited)}})
    env = {**os.environ, **FAST_AGENT_ENV, "SEATGUARD_AGENT_BATCH_MAX_AGE_S": "0.2"}
    agent = subprocess.Popen([AGENT, "run", "--home", str(home), "--no-sensors", "--heartbeat-s", "0.3"], env=env,
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.log").open("wb"))
    try:
        def restored() -> bool:
            beats = [e for e in _events(collector.data, "pc-edited") if e["kind"] == "agent.heartbeat"]
            return any(b.get("policy_version") == DEFAULT_POLICY["version"] for b in beats)

        wait_for(restored, 60, what="a heartbeat under the collector's own policy again")
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    beats = [e for e in _events(collector.data, "pc-edited") if e["kind"] == "agent.heartbeat"]
    assert beats[0]["policy_version"] == 0, "the edited policy was refused: built-in defaults until a signed one"
    assert _record(home)["policy"] == DEFAULT_POLICY, "the collector's signed policy replaced the edited one"
    assert _status(home)["spool"]["unsigned_answers"] >= 1
    mismatches = [d for k, d in _integrity(collector.data, "pc-edited") if k == "policy_mismatch"]
    assert mismatches and {d["why"] for d in mismatches} == {"not_issued"}
    assert mismatches[0]["policy_version"] == 0
    admin = _admin(collector)
    alert = wait_for(lambda: _alerts(collector, admin, "pc-edited", "policy_mismatch"), 30,
                     what="a policy_mismatch alert")
    assert alert[0]["severity"] == "high"


def _beat(version: int, digest: str) -> dict[str, Any]:
    return {"ts": format_ts(datetime.now(UTC)), "kind": "agent.heartbeat", "spool_depth": 0, "dropped_total": 0,
            "cpu_pct": 1.0, "rss_mb": 50.0, "policy_version": version, "policy_hash": digest,
            "unsigned_answers": 0}


def test_outdated_foreign_and_unknown_policies_are_findings(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector")
    with (collector.data / "collector.toml").open("a", encoding="utf-8") as fh:
        fh.write("policy_grace_s = 0.0\n")  # no grace: an agent still on version 1 is outdated at once
    offline = Collector(load_settings(collector.data))
    try:
        v2 = offline.policy.update({"idle_threshold_s": 120})
    finally:
        offline.close()
    assert v2["version"] == 2
    collector.start()
    try:
        post = _post(collector)
        agent = SimAgent("pc-sim")
        agent.enroll(post, collector.token())
        cases = [
            (_beat(2, policy_hash(v2)), None),                           # the policy in force: fine
            (_beat(1, policy_hash(DEFAULT_POLICY)), "outdated"),          # issued, but replaced
            (_beat(2, policy_hash({**v2, "watched_folders": []})), "not_issued"),  # version 2, other text
            (_beat(9, policy_hash(v2)), "not_issued"),                   # a version never issued
        ]
        seen: list[dict[str, Any]] = []
        for beat, why in cases:
            agent.send(post, [beat])
            found = [d for k, d in _integrity(collector.data, "pc-sim") if k == "policy_mismatch"]
            new, seen = found[len(seen):], found
            assert [d["why"] for d in new] == ([why] if why else []), (beat["policy_version"], new)
            if why:
                assert new[0]["policy_version"] == beat["policy_version"]
        assert run_cli(COLLECTOR, "stats", "--data", str(collector.data))
        admin = _admin(collector)
        alert = wait_for(lambda: _alerts(collector, admin, "pc-sim", "policy_mismatch"), 30,
                         what="a policy_mismatch alert")
        assert alert[0]["severity"] == "high"
    finally:
        collector.kill()
