"""The person at the PC as a test peer: the agent's own wire code and key, sending whatever they like.

Shared by the tests that play an insider against a real collector process (amplification shapes, the
insider playbook). Everything it sends is validly sealed and signed, so only the collector's own checks
stand between its content and storage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from contract import wire
from contract.schema import format_ts
from tests.conftest import RAW_IDS, CollectorProcess


class Insider:
    """The person at the PC, running the agent's own sealing code with the PC's own key."""

    def __init__(self, collector: CollectorProcess, name: str = "pc-ins") -> None:
        self.url = collector.url
        self.key = wire.new_agent_key()
        answer = requests.post(self.url + "/api/v1/enroll", timeout=30, json={
            "token": collector.token(), "public_key": wire.public_key_b64(self.key.public_key()), "name": name})
        assert answer.status_code == 200, answer.text
        self.agent_id = name
        self.collector_key = wire.load_x25519_public(answer.json()["collector_key"])
        self.prev = wire.GENESIS_HASH
        self.batch_seq = 0
        self.seq = 0
        self.answers: list[str] = []

    def event(self, kind: str = "app.focus", ts: datetime | None = None, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        base = {"app": "crm.exe", "title": f"客户 {RAW_IDS[0]}", "pid": 7} if kind == "app.focus" else {}
        return {"schema": 1, "agent_id": self.agent_id, "seq": self.seq, "ts": format_ts(ts or datetime.now(UTC)),
                "kind": kind, **base, **fields}

    def seal(self, events: list[Any]) -> bytes:
        self.batch_seq += 1
        body, digest = wire.seal_batch(agent_id=self.agent_id, batch_seq=self.batch_seq, prev_batch_hash=self.prev,
                                       events=events, sealed_at=format_ts(datetime.now(UTC)),
                                       collector_key=self.collector_key, agent_key=self.key)
        self.prev = digest
        return body

    def post(self, body: bytes, refused_keeps_seq: bool = True) -> requests.Response:
        answer = requests.post(self.url + "/api/v1/batches", data=body, timeout=300,
                               headers={"content-type": "application/json"})
        self.answers.append(answer.text)
        if answer.status_code >= 400 and refused_keeps_seq:  # a refused batch was not stored: number it again
            self.batch_seq -= 1
            self.prev = self._last_stored
        elif answer.status_code == 200:
            self._last_stored = self.prev
        return answer

    _last_stored = wire.GENESIS_HASH
