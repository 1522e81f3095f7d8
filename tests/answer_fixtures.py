"""A stand-in for the collector on loopback: what the person at the PC could point their agent at.

:class:`StandIn` is a real HTTP server. In ``transparent`` mode it forwards every request to the real
collector and relays the answer; in the other modes it answers batches itself, the way a small local
server or a forwarding proxy on plain http:// could:

* ``missing``  200 "stored" with no receipt;
* ``forged``   200 with a receipt and a rewritten policy signed by its own key;
* ``replayed`` 200 with the last genuine receipt it relayed (for an earlier batch);
* ``relabelled`` 200 with a genuine receipt of an earlier batch given this batch's number and hash;
* ``rewrite``  forwards, relays the genuine receipt, but rewrites the signed policy in the answer;
* ``drop_odd`` forwards every other batch request and fakes the answer to the rest (cycling through
  the faking modes above).

Signing-key requests are answered with its own key and a made-up proof in the faking modes.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from contract import wire
from contract.key_set import parse_keys
from contract.receipts import KINDS, Receipt, envelope_hash, key_id, receipt_in, sign_receipt, verify_receipt
from contract.signed_policy import sign_policy
from tests.conftest import free_port

FAKES = ("missing", "forged", "replayed", "relabelled")
REWRITTEN = {"watched_folders": [], "screenshot_triggers": [], "clear_sensitive_copies": False}


class StandIn:
    def __init__(self, backend: str, mode: str = "transparent") -> None:
        self.backend = backend
        self.mode = mode
        self.key = wire.new_agent_key()  # its own Ed25519 key: it has no access to the collector's
        self.lock = threading.Lock()
        self.faked = 0
        self.forwarded = 0
        self.rewritten = 0
        self.key_requests = 0
        self.last_receipt: dict[str, Any] | None = None
        self._turn = itertools.count()
        self._fakes = itertools.cycle(FAKES)
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        resp = requests.post(self.backend + path, data=body, headers={"Content-Type": "application/json"},
                             timeout=30)
        return resp.status_code, resp.json()

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            mode = self.mode
        if path == "/api/v1/signing-keys":
            with self.lock:
                self.key_requests += 1
            if mode not in FAKES:
                return self._forward(path, body)
            own = {key_id(self.key.public_key()): wire.public_key_b64(self.key.public_key())}
            return 200, {"signing_keys": own, "proof": os.urandom(32).hex()}
        if path != "/api/v1/batches":
            return self._forward(path, body)
        if mode == "drop_odd":
            mode = "transparent" if next(self._turn) % 2 == 0 else next(self._fakes)
        if mode in ("transparent", "rewrite"):
            status, answer = self._forward(path, body)
            with self.lock:
                self.forwarded += 1
                if isinstance(answer.get("receipt"), dict):
                    self.last_receipt = answer["receipt"]
                if mode == "rewrite" and "signed_policy" in answer:
                    answer = self._rewrite(answer)
            return status, answer
        with self.lock:
            self.faked += 1
        return 200, self._fake(mode, body)

    def _fake(self, mode: str, body: bytes) -> dict[str, Any]:
        env = json.loads(body)
        answer: dict[str, Any] = {"status": "stored", "stored": 1, "quarantined": 0, "duplicates": 0,
                                  "policy": {"version": 99, **REWRITTEN}}
        if mode == "forged":
            answer["receipt"] = sign_receipt(self.key, kind="batch", agent_id=env["agent_id"], ref=env["batch_seq"],
                                             digest=envelope_hash(body), outcome="stored")
            answer["signed_policy"] = sign_policy(self.key, env["agent_id"], {"version": 99, **REWRITTEN})
        elif mode == "replayed" and self.last_receipt is not None:
            answer["receipt"] = self.last_receipt
        elif mode == "relabelled" and self.last_receipt is not None:
            answer["receipt"] = {**self.last_receipt, "batch_seq": env["batch_seq"],
                                 "envelope_hash": envelope_hash(body)}
        return answer

    def _rewrite(self, answer: dict[str, Any]) -> dict[str, Any]:
        signed = dict(answer["signed_policy"])
        policy = {**json.loads(signed["text"]), **REWRITTEN}
        policy["version"] = int(signed["version"]) + 1
        signed.update(text=json.dumps(policy, sort_keys=True, separators=(",", ":")), version=policy["version"])
        self.rewritten += 1
        return {**answer, "policy": policy, "signed_policy": signed}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = stand_in.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def strip_trust(enrollment: dict[str, Any]) -> dict[str, Any]:
    """An enrollment record as agents enrolled before signed answers kept it."""
    return {k: v for k, v in enrollment.items() if k not in ("signing_keys", "signed_policy")}


def verified_receipt(answer: dict[str, Any], body: bytes, keys: dict[str, str], kind: str = "batch") -> Receipt:
    """What an agent checks before it forgets an envelope: the answer's receipt, for exactly ``body``."""
    ids = wire.peek_ids(body, KINDS[kind])
    assert ids is not None, "the envelope names its agent and batch"
    return verify_receipt(receipt_in(answer), parse_keys(keys), kind=kind, agent_id=ids[0], ref=ids[1],
                          digest=envelope_hash(body))
