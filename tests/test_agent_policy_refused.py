"""A signed policy the agent cannot read (a newer collector's trigger, a value of another type) is not
applied: the agent keeps its last good policy (and keeps reporting that one's version and hash, which
the collector records as a policy mismatch) and says why once, instead of running the built-in defaults."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.runner import Runner
from contract import wire
from contract.key_set import parse_keys
from contract.receipts import key_id
from contract.signed_policy import accept_policy, sign_policy

GOOD = {"version": 2, "idle_threshold_s": 120, "allowed_apps": ["crm", "chrome"]}


def _runner(tmp_path: Path) -> Any:
    key = wire.new_agent_key()
    keys = parse_keys({key_id(key.public_key()): wire.public_key_b64(key.public_key())})
    in_force = accept_policy(sign_policy(key, "pc-1", GOOD), keys, "pc-1", None)
    unsigned: list[int] = []
    fake = SimpleNamespace(trust=SimpleNamespace(keys=keys), identity=SimpleNamespace(agent_id="pc-1"),
                           in_force=in_force, policy=dict(GOOD), home=tmp_path, key=key,
                           spool=SimpleNamespace(note_unsigned=lambda: unsigned.append(1)),
                           policy_changed=SimpleNamespace(set=lambda: setattr(fake, "changed", True)),
                           changed=False, refused_hash=None)
    fake._resigned = lambda signed: Runner._resigned(fake, signed)
    fake._usable = lambda found: Runner._usable(fake, found)
    return fake


@pytest.mark.parametrize("bad", [
    {"version": 3, "screenshot_triggers": ["a_trigger_of_a_newer_release"]},
    {"version": 3, "allowed_apps": "crm"},
    {"version": 3, "idle_threshold_s": 10**400},
    {"version": 3, "process_categories": {"messaging": [1]}},
])
def test_an_unreadable_signed_policy_keeps_the_last_good_one(tmp_path: Path, bad: dict[str, Any],
                                                             caplog: pytest.LogCaptureFixture,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _runner(tmp_path)
    saved: list[Any] = []
    monkeypatch.setattr("agent.runner.save_policy", lambda *a: saved.append(a))
    good = fake.in_force
    with caplog.at_level(logging.ERROR, logger="agent.runner"):
        for _ in range(3):  # offered again with every batch answer
            Runner._on_reply(fake, {"signed_policy": sign_policy(fake.key, "pc-1", bad)})
    assert fake.in_force is good and fake.policy == GOOD and not fake.changed and not saved
    refusals = [r for r in caplog.records if "cannot read" in r.getMessage()]
    assert len(refusals) == 1 and "version 3" in refusals[0].getMessage()
    # a readable newer one is applied afterwards
    Runner._on_reply(fake, {"signed_policy": sign_policy(fake.key, "pc-1", {**GOOD, "version": 4})})
    assert fake.in_force.version == 4 and fake.changed and saved
