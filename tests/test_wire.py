from __future__ import annotations

import base64
import json

import pytest

from collector.integrity import AgentState, check_batch
from contract import wire
from contract.errors import WireError

SEALED_AT = "2026-11-24T01:00:00.000Z"


def _seal(ck, ak, **kw):  # type: ignore[no-untyped-def]
    args = dict(agent_id="pc-1", batch_seq=1, prev_batch_hash=wire.GENESIS_HASH, events=[{"a": 1}],
                sealed_at=SEALED_AT, collector_key=ck.public_key(), agent_key=ak)
    args.update(kw)
    return wire.seal_batch(**args)


def test_round_trip_and_hash() -> None:
    ck, ak = wire.new_collector_key(), wire.new_agent_key()
    body, digest = _seal(ck, ak)
    env = wire.parse_envelope(body)
    wire.verify_envelope(env, ak.public_key())
    batch = wire.open_envelope(env, ck)
    assert batch.events == [{"a": 1}] and env.batch_hash == digest
    assert b'"a"' not in body  # sealed: the event is not readable on the wire


def test_flipped_ciphertext_fails_the_signature() -> None:
    ck, ak = wire.new_collector_key(), wire.new_agent_key()
    body, _ = _seal(ck, ak)
    obj = json.loads(body)
    ct = bytearray(base64.b64decode(obj["ct"]))
    ct[10] ^= 1
    obj["ct"] = base64.b64encode(bytes(ct)).decode()
    env = wire.parse_envelope(json.dumps(obj).encode())
    with pytest.raises(WireError) as info:
        wire.verify_envelope(env, ak.public_key())
    assert info.value.code == "bad_signature"


def test_ciphertext_moved_to_another_sequence_number_does_not_open() -> None:
    ck, ak = wire.new_collector_key(), wire.new_agent_key()
    body, _ = _seal(ck, ak, batch_seq=5)
    obj = json.loads(body)
    obj["batch_seq"] = 6  # an attacker with the agent key still cannot re-bind the ciphertext
    env = wire.parse_envelope(json.dumps(obj).encode())
    with pytest.raises(WireError) as info:
        wire.open_envelope(env, ck)
    assert info.value.code == "tampered_ciphertext"


def test_sealed_to_another_collector_does_not_open() -> None:
    ak = wire.new_agent_key()
    body, _ = _seal(wire.new_collector_key(), ak)
    with pytest.raises(WireError) as info:
        wire.open_envelope(wire.parse_envelope(body), wire.new_collector_key())
    assert info.value.code == "tampered_ciphertext"


@pytest.mark.parametrize("body", [b"", b"garbage", b"[]", b'{"v":2}', b'{"v":1,"agent_id":"a","batch_seq":1}',
                                  b'{"v":1,"agent_id":"a","batch_seq":1,"sealed_at":"x","ct":"!!","sig":""}'])
def test_malformed_envelopes(body: bytes) -> None:
    with pytest.raises(WireError) as info:
        wire.parse_envelope(body)
    assert info.value.code == "malformed"


def test_chain_and_gap_bookkeeping() -> None:
    fresh = AgentState(0, 0, None)
    assert check_batch(fresh, 1, wire.GENESIS_HASH, None, [1, 2, 3]).records == []
    state = AgentState(3, 1, "h1")
    assert check_batch(state, 2, "h1", "h1", [4, 5]).records == []
    broken = check_batch(state, 2, "hX", "h1", [4]).records
    assert broken[0][0] == "chain_break"
    gap = check_batch(state, 4, "h3", None, [10, 11]).records
    assert ("batch_gap", {"missing_from": 2, "missing_to": 3}) in gap
    assert ("seq_gap", {"missing_from": 4, "missing_to": 9}) in gap
