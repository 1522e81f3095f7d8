"""Ingest service: verify -> open -> validate -> MASK -> dedupe -> store, in one transaction.

Plain object with no HTTP in it; the route in ``collector.api`` is a thin wrapper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from collector import answer_checks
from collector.config import Settings
from collector.errors import Rejected
from collector.event_check import validate_event_s
from collector.keys import KeyRing
from collector.metrics import Metrics
from collector.retention import RetentionPeriods
from collector.storage import BatchWrite, QuarantinedEvent, Store, StoredEvent
from collector.storage.base import RollupHook
from contract import wire
from contract.errors import InvalidEvent, WireError
from contract.masking import DEFAULT_ENGINE, MaskingError, mask_obj, mask_text
from contract.pattern_search import batch_budget
from contract.schema import QUANTITY_FIELDS, parse_ts

log = logging.getLogger(__name__)
_ENVELOPE_KEYS = frozenset(("schema", "agent_id", "seq", "ts", "kind"))
_MIDNIGHT = datetime.min.time()
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # older moments: a PC clock gone wrong (year 1 has no day in every zone)
_EARLIEST_S = EARLIEST.timestamp()
_dumps = orjson.dumps
MAX_KEPT_AGENTS = 200_000  # agents whose key and newest batch are kept in memory (then forgotten, read again)
# the local days one batch's stored events may fall on: each costs a rollup folded and saved inside the
# transaction (SQLite: under the write lock every PC waits for), so a 2 KB batch of one event a day over 170
# days took 0.4-0.8 s; an agent seals a batch within minutes of its events (1,000 events, a minute of
# heartbeats at least), so its batches hold one or two days. Events past the cap are quarantined.
MAX_BATCH_DAYS = 8
# the previous heartbeat (its answer counters) is searched this many event numbers back at most: an honest
# agent beats every minute; a signed batch numbered anyhow must not make ingest read the agent's whole history
HEARTBEAT_LOOKBACK = 2_000
KEY_ACK_PREFIX = "key_ack/"  # kv: the newest collector key generation an agent was seen sealing to


@dataclass(frozen=True)
class IngestNotice:
    """What listeners (live wall, real-time alerts) hear after a batch is committed."""

    agent_id: str
    batch_seq: int
    events: list[dict[str, Any]]  # masked, as stored
    integrity: list[tuple[str, dict[str, Any]]]
    days: list[str]  # each event's local day (the collector's time zone), as stored


IngestListener = Callable[[IngestNotice], None]
HeldAgent = Callable[[str], bool]
"""agent_id -> whether it is under a legal hold (asked only for a batch with an event past its kind's period)."""
IssuedPolicies = Callable[[list[int]], dict[int, tuple[str, float]]]
"""Policy versions -> (hash, issued at) of those this collector handed out (``PolicyService.issued``)."""
CustomerOf = Callable[[str, dict[str, Any]], Any]
"""(agent_id, validated event) -> its keyed customer, asked before masking (``RollupUpdater.customer``)."""


@dataclass(frozen=True)
class IngestSettings:
    """The settings ingest obeys: body and batch limits, the accepted time window, the quarantine cap,
    the grace for a policy just issued, and the zone whose calendar days events are filed under (each
    documented in :class:`collector.config.Settings`)."""

    tz: tzinfo
    max_body_bytes: int
    max_inflated_bytes: int
    max_inflate_ratio: float
    max_json_containers: int
    max_batch_events: int
    max_clock_skew_s: float
    max_batch_age_days: float
    periods: RetentionPeriods  # each kind's retention period (collector.retention)
    max_quarantine_per_batch: int
    policy_grace_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestSettings:
        return cls(settings.tz, settings.max_body_bytes, settings.max_inflated_bytes, settings.max_inflate_ratio,
                   settings.max_json_containers, settings.max_batch_events, settings.max_clock_skew_s,
                   settings.max_batch_age_days, settings.periods, settings.max_quarantine_per_batch,
                   settings.policy_grace_s)


@dataclass(frozen=True)
class IngestResult:
    """What became of one batch; ``agent_id`` and ``batch_seq`` say which (its receipt names them)."""

    agent_id: str
    batch_seq: int
    status: str
    stored: int
    quarantined: int
    duplicates: int

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "stored": self.stored, "quarantined": self.quarantined,
                "duplicates": self.duplicates}


class IngestService:
    """Takes sealed batches. Without ``issued_policies`` heartbeats' policies and answers go unchecked;
    without ``customers`` events carry no keyed customer; without ``rollup_hook`` no rollup is kept;
    without ``held`` no agent is under a legal hold.

    An event older than its kind's retention period is quarantined (the purge would drop it at once),
    unless its agent is under a legal hold (:mod:`collector.holds`): the hold exists to keep what the
    agent did, so such an event is stored, back to ``retention_days`` or the oldest batch accepted
    (``max_batch_age_days``, and a day for the batch to fill), whichever is longer. Whether the agent is
    held is read only for a batch that carries such an event, once a batch."""

    def __init__(self, store: Store, keys: KeyRing, settings: IngestSettings, metrics: Metrics,
                 issued_policies: IssuedPolicies | None = None, customers: CustomerOf | None = None,
                 rollup_hook: RollupHook | None = None, held: HeldAgent | None = None) -> None:
        self.store = store
        self.keyring = keys
        self._acknowledged: set[str] = set()  # agents known to seal to the newest HPKE key
        self._keys: dict[str, tuple[str, Ed25519PublicKey]] = {}  # agent_id -> enrolled key that verified
        self._newest_batch: dict[str, int] = {}  # agent_id -> newest batch_seq this process stored
        self.settings = settings
        self.metrics = metrics
        self.listeners: list[IngestListener] = []
        self.issued_policies = issued_policies
        self.customers = customers
        self.rollup_hook = rollup_hook  # run by the store inside each batch's transaction
        self.held = held
        self.held_days = max(float(settings.periods.default_days), settings.max_batch_age_days + 1)

    def reject(self, code: str, message: str, agent_id: str | None = None) -> Rejected:
        self.metrics.rejections.labels(code).inc()
        self.store.count_rejection(code)
        log.warning("rejected batch from %s: %s: %s", agent_id or "?", code, mask_text(message))
        return Rejected(code, message)

    def handle(self, body: bytes) -> IngestResult:
        started = time.perf_counter()
        if len(body) > self.settings.max_body_bytes:
            raise self.reject("too_large", f"body of {len(body)} bytes exceeds {self.settings.max_body_bytes}")
        try:
            env = wire.parse_envelope(body)
        except WireError as exc:
            raise self.reject(exc.code, exc.message) from exc
        public_key = self._verify(env)
        now = datetime.now(UTC)
        self.check_window(env.sealed_at, now, env.agent_id)
        newest = self._newest_batch.get(env.agent_id)
        if newest is None or env.batch_seq <= newest:
            # maybe stored already: answer a re-sent batch without opening it (a batch above the newest this
            # process stored may still have been stored by another collector: the write finds it)
            stored_hash = self.store.batch_hash(env.agent_id, env.batch_seq)
            if stored_hash is not None:
                self._read_key(env.agent_id)  # a kept key says nothing of a revocation since: the row does
                return self._duplicate(stored_hash, env)
        try:
            ring = self.keyring.open_keys(now.timestamp())
            batch = wire.open_envelope(env, [k for _, k in ring], max_plaintext=self.settings.max_inflated_bytes,
                                       max_ratio=self.settings.max_inflate_ratio,
                                       max_containers=self.settings.max_json_containers)
        except WireError as exc:
            raise self.reject(exc.code, exc.message, env.agent_id) from exc
        self.note_opened(env.agent_id, ring[batch.key_index][0])
        if len(batch.events) > self.settings.max_batch_events:
            raise self.reject("too_many_events", f"batch of {len(batch.events)} events exceeds "
                              f"{self.settings.max_batch_events}", env.agent_id)
        with batch_budget():  # the policy's pattern searches of the whole batch, in and out of the write
            write = self._prepare(batch, env.batch_hash, now)
            write.public_key = public_key
            write.findings.extend(self._answer_findings(batch))
            outcome = self.store.ingest(write, self.rollup_hook)
        if outcome.status in ("revoked", "key_changed"):
            self._keys.pop(env.agent_id, None)
            if outcome.status == "revoked":
                raise self.reject("revoked_agent", f"agent {env.agent_id!r} was revoked", env.agent_id)
            raise self.reject("bad_signature", "the batch is signed with a key the agent no longer has",
                              env.agent_id)
        self._note_newest(env.agent_id, env.batch_seq)
        if outcome.status == "conflict":
            raise self.reject("batch_conflict", f"batch {env.batch_seq} was already stored with other content",
                              env.agent_id)
        if outcome.status == "duplicate":
            self.metrics.batches.labels("duplicate").inc()
            return IngestResult(env.agent_id, env.batch_seq, "duplicate", 0, 0, 0)
        self.metrics.batches.labels("stored").inc()
        self.metrics.events.inc(outcome.stored)
        self.metrics.quarantined.inc(outcome.quarantined)
        for kind, detail in outcome.integrity:
            self.metrics.integrity.labels(kind).inc()
            log.warning("agent %s: %s %s", env.agent_id, kind, detail)  # masked by the store
        self.metrics.latency.observe(time.perf_counter() - started)
        self._notify(IngestNotice(env.agent_id, env.batch_seq, [e.event for e in write.events], outcome.integrity,
                                  [e.day for e in write.events]))
        return IngestResult(env.agent_id, env.batch_seq, "stored", outcome.stored, outcome.quarantined,
                            outcome.duplicates)

    def open_keys(self) -> list[X25519PrivateKey]:
        """Every HPKE private half, the one agents seal to now first (see :class:`collector.keys.KeyRing`)."""
        return [k for _, k in self.keyring.open_keys(time.time())]

    def note_opened(self, agent_id: str, gen: int) -> None:
        """Count which key generation opened an envelope; an agent's first envelope sealed to the newest key
        after a rotation is its acknowledgement of the new keys (``keys list`` shows it)."""
        self.metrics.hpke_opens.labels(str(gen)).inc()
        if gen < self.keyring.newest or self.keyring.newest == 1 or agent_id in self._acknowledged:
            return
        self._acknowledged.add(agent_id)
        key = f"{KEY_ACK_PREFIX}{agent_id}"
        if self.store.get_kv(key) != str(gen):
            self.store.set_kv(key, str(gen))
            log.info("agent %s seals to the collector keys of generation %d", agent_id, gen)

    def _answer_findings(self, batch: wire.Batch) -> list[tuple[str, dict[str, Any]]]:
        """Forged answers and policies not issued, as the batch's heartbeats report them."""
        beats = answer_checks.heartbeats(batch.events)
        if not beats or self.issued_policies is None:
            return []
        since = max(1, beats[0].seq - HEARTBEAT_LOOKBACK)
        last = self.store.last_heartbeat(batch.agent_id, beats[0].seq, since)
        before = last.get("unsigned_answers") if last else None
        changes = last.get("collector_changes") if last else None
        if last is None and since > 1:  # none within reach: the counters' past is unknown, not zero
            before = next((b.unsigned for b in beats if b.unsigned is not None), None)
            changes = next((b.changes for b in beats if b.changes is not None), None)
        issued = self.issued_policies([b.version for b in beats if b.version is not None])
        return answer_checks.check(beats, before if type(before) is int else None, issued,
                                   float(self.settings.policy_grace_s), changes if type(changes) is int else None)

    def _notify(self, notice: IngestNotice) -> None:
        """Tell listeners after the commit; a failing listener never undoes or fails an ingest."""
        for listener in self.listeners:
            try:
                listener(notice)
            except Exception:  # listeners are extensions: log and carry on, the batch is already safe
                log.exception("ingest listener %r failed", listener)

    def agent_key(self, agent_id: str) -> Ed25519PublicKey:
        """The enrolled, unrevoked agent's public key, or a counted refusal."""
        return self._read_key(agent_id)[1]

    def _read_key(self, agent_id: str) -> tuple[str, Ed25519PublicKey]:
        agent = self.store.get_agent(agent_id)
        if agent is None:
            raise self.reject("unknown_agent", f"agent {agent_id!r} is not enrolled", agent_id)
        if agent["revoked_at"] is not None:
            raise self.reject("revoked_agent", f"agent {agent_id!r} was revoked", agent_id)
        return str(agent["public_key"]), wire.load_ed25519_public(agent["public_key"])

    def _verify(self, env: wire.Envelope) -> str:
        """Check the envelope's signature; returns the enrolled key (base64) that verified it.

        Keys verified before are kept in memory (an agent's key never changes: agents are not deleted and
        an agent_id is never enrolled twice); the write checks the agent's row again, revocation included,
        under its lock. A signature a kept key refuses is checked once more against the row as read now."""
        kept = self._keys.get(env.agent_id)
        if kept is not None:
            try:
                wire.verify_envelope(env, kept[1])
                return kept[0]
            except WireError:
                self._keys.pop(env.agent_id, None)
        public_key, key = self._read_key(env.agent_id)
        try:
            wire.verify_envelope(env, key)
        except WireError as exc:
            raise self.reject(exc.code, exc.message, env.agent_id) from exc
        if len(self._keys) >= MAX_KEPT_AGENTS:
            self._keys.clear()
        self._keys[env.agent_id] = (public_key, key)
        return public_key

    def _note_newest(self, agent_id: str, batch_seq: int) -> None:
        """Remember the newest batch this process stored for the agent (see :meth:`handle`)."""
        newest = self._newest_batch
        if batch_seq > newest.get(agent_id, 0):
            if agent_id not in newest and len(newest) >= MAX_KEPT_AGENTS:
                newest.clear()
            newest[agent_id] = batch_seq

    def _duplicate(self, stored_hash: str, env: wire.Envelope) -> IngestResult:
        if stored_hash != env.batch_hash:
            raise self.reject("batch_conflict", f"batch {env.batch_seq} was already stored with other content",
                              env.agent_id)
        self.metrics.batches.labels("duplicate").inc()
        log.info("agent %s re-sent batch %d: already stored", env.agent_id, env.batch_seq)
        return IngestResult(env.agent_id, env.batch_seq, "duplicate", 0, 0, 0)

    def check_window(self, sealed_at: str, now: datetime, agent_id: str, what: str = "batch") -> None:
        """Refuse (and count) a batch or blob sealed too long ago or in the future."""
        try:
            moment = parse_ts(sealed_at)
        except InvalidEvent as exc:
            raise self.reject("malformed", "'sealed_at' is not an RFC 3339 timestamp", agent_id) from exc
        if moment > now + timedelta(seconds=self.settings.max_clock_skew_s):
            raise self.reject("timestamp_out_of_window", f"{what} sealed in the future ({sealed_at})", agent_id)
        if moment < now - timedelta(days=self.settings.max_batch_age_days):
            raise self.reject("timestamp_out_of_window", f"{what} sealed too long ago ({sealed_at})", agent_id)

    def _prepare(self, batch: wire.Batch, batch_hash: str, now: datetime) -> BatchWrite:
        local_day = LocalDays(self.settings.tz)
        # moments compared as POSIX seconds (one float each, not aware datetimes in two zones)
        future = now.timestamp() + self.settings.max_clock_skew_s
        # older than the retention period: the purge would drop it at once, and on PostgreSQL each such
        # day would first get a partition of its own (a forged ts per past day would make thousands)
        oldest = self.settings.periods.oldest(now, _EARLIEST_S)  # per kind (collector.retention), POSIX s
        agent_id = batch.agent_id
        customers = self.customers
        good: list[StoredEvent] = []
        bad: list[QuarantinedEvent] = []
        days: set[str] = set()  # the local days of the events kept: each is an agent-day rollup to fold and save
        append = good.append
        held: list[bool] = []  # whether the agent is under a legal hold, once asked
        kept_old = 0
        for raw in batch.events:
            try:
                event, at, exact = validate_event_s(raw, agent_id)
            except InvalidEvent as exc:
                bad.append(QuarantinedEvent(_raw_seq(raw), _clean(exc.reason), _masked_raw(raw)))
                continue
            if event["agent_id"] != agent_id or at > future or at < oldest[event["kind"]]:
                if not self._held_keeps(event, agent_id, at, future, now, held):
                    # past its kind's period already: only its envelope is kept, none of what it recorded (the
                    # quarantine is kept for retention_days, longer than a shortened kind's period)
                    past = _EARLIEST_S <= at < oldest[event["kind"]] and event["agent_id"] == agent_id
                    kept = {k: event[k] for k in _ENVELOPE_KEYS} if past else raw
                    reason = _clean(self._out_of_bounds(event, agent_id, at, future, held))
                    bad.append(QuarantinedEvent(event["seq"], reason, _masked_raw(kept)))
                    continue
                kept_old += 1
            day = local_day(at)
            if day not in days:
                if len(days) >= MAX_BATCH_DAYS:
                    bad.append(QuarantinedEvent(event["seq"], f"field 'ts': the batch's events fall on more than "
                                                f"{MAX_BATCH_DAYS} days; {day} is past them", _masked_raw(raw)))
                    continue
                days.add(day)
            customer = customers(agent_id, event) if customers is not None else None
            try:
                masked = _mask_fields(event)
                data = _dumps(masked).decode()
            except (MaskingError, RecursionError, TypeError, ValueError, orjson.JSONEncodeError) as exc:
                bad.append(QuarantinedEvent(_raw_seq(raw), f"masking failed: {_clean(str(exc))[:200]}",
                                            _masked_raw(raw)))
                continue
            # the rollup takes the moment already read, when the stored ts says the same (whole milliseconds)
            append(StoredEvent(event["seq"], event["ts"], int(at * 1000), day, event["kind"], data, masked, customer,
                               at if exact else None))
        if kept_old:
            log.info("agent %s is under a legal hold: %d events older than their kind's retention period kept",
                     agent_id, kept_old)
        bad = self._cap_quarantine(bad, agent_id)
        return BatchWrite(agent_id, batch.batch_seq, batch_hash, batch.prev_batch_hash, good, bad,
                          now.timestamp())

    def _held_keeps(self, event: dict[str, Any], agent_id: str, at: float, future: float, now: datetime,
                    held: list[bool]) -> bool:
        """Whether an event past its kind's period is kept for a legal hold on its agent (``held``: the
        batch's answer, asked once)."""
        if event["agent_id"] != agent_id or at > future or at < _EARLIEST_S or self.held is None:
            return False
        if not held:
            held.append(bool(self.held(agent_id)))
        return held[0] and at >= (now - timedelta(days=self.held_days)).timestamp()

    def _out_of_bounds(self, event: dict[str, Any], agent_id: str, at: float, future: float,
                       held: list[bool] | None = None) -> str:
        """Why a valid event cannot be stored: another agent's, or a moment out of bounds."""
        if event["agent_id"] != agent_id:
            return "field 'agent_id': does not match the batch's agent"
        if at > future:
            return f"field 'ts': {event['ts']} is in the future"
        if at < _EARLIEST_S:
            return f"field 'ts': {event['ts']} is before 1970"
        if held and held[0]:
            return (f"field 'ts': {event['ts']} is older than anything kept for an agent under a legal hold "
                    f"({self.held_days:g} days)")
        return (f"field 'ts': {event['ts']} is older than the retention period "
                f"({self.settings.periods.days_for(event['kind'])} days) of {event['kind']}")

    def _cap_quarantine(self, bad: list[QuarantinedEvent], agent_id: str) -> list[QuarantinedEvent]:
        """Keep at most ``max_quarantine_per_batch`` rows; the excess is counted and logged, not stored."""
        cap = self.settings.max_quarantine_per_batch
        if len(bad) <= cap:
            return bad
        excess = len(bad) - cap
        self.metrics.quarantine_dropped.inc(excess)
        log.warning("agent %s: %d quarantined events over the per-batch cap of %d counted, not stored",
                    agent_id, excess, cap)
        kept = bad[:cap]
        if kept:
            last = kept[-1]
            kept[-1] = QuarantinedEvent(last.seq, f"{last.reason} (and {excess} more quarantined events in this "
                                        "batch, counted, not stored)", last.raw)
        return kept


class LocalDays:
    """The local calendar day (ISO) of moments in POSIX seconds, as ``datetime.fromtimestamp(at, tz)``
    says, answered from the span of the last day found while the moments fall in it (a batch's events
    are mostly of one day). A span is kept only when the zone's offset is the same at both its ends."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._lo = self._hi = 0.0
        self._day = ""

    def __call__(self, at: float) -> str:
        if self._lo <= at < self._hi:
            return self._day
        local = datetime.fromtimestamp(at, self.tz)
        day = local.date()
        lo = datetime.combine(day, _MIDNIGHT, self.tz)
        hi = datetime.combine(day + timedelta(days=1), _MIDNIGHT, self.tz)
        self._day = day.isoformat()
        if (lo.utcoffset() == hi.utcoffset() == local.utcoffset()
                and datetime.fromtimestamp(lo.timestamp(), self.tz).date() == day):
            self._lo, self._hi = lo.timestamp(), hi.timestamp()
        else:  # a change of offset that day (daylight saving): no span, every moment converted
            self._lo = self._hi = 0.0
        return self._day


_plain = DEFAULT_ENGINE.is_plain  # most texts hold no number: one call says so, mask_text is the rest


def _mask_fields(event: dict[str, Any]) -> dict[str, Any]:
    """Mask every text value; envelope keys and quantity fields (validated numbers) pass unchanged."""
    masked = dict(event)  # envelope values and the plain texts stay as they are: only the rest is replaced
    for key, value in event.items():
        kind = type(value)
        if kind is str:  # the usual case first (a text is never a quantity nor the classes)
            if key not in _ENVELOPE_KEYS and not _plain(value):
                masked[key] = mask_text(value)
        elif key in _ENVELOPE_KEYS or ((kind is int or kind is float) and key in QUANTITY_FIELDS):
            continue
        elif key == "classes" and kind is dict and all(type(v) is int for v in value.values()):
            masked[key] = dict(value)  # class counts (validated numbers)
        else:
            masked[key] = mask_obj(value)
    return masked


def _raw_seq(raw: Any) -> int | None:
    """A quarantined event's seq when it has a usable one (the integrity checks count it as seen)."""
    seq = raw.get("seq") if isinstance(raw, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else None


def _clean(text: str) -> str:
    """A masked reason with NULs spelled out (PostgreSQL text refuses them)."""
    return mask_text(text.replace("\x00", "\\u0000"))


def _masked_raw(raw: Any) -> str:
    """The quarantined event as masked JSON text; never raises (it runs on what failed everything else)."""
    try:
        return orjson.dumps(mask_obj(raw)).decode()[:65536]
    except (MaskingError, RecursionError, TypeError, ValueError, orjson.JSONEncodeError):
        try:
            return _clean(repr(raw)[:65536])
        except (MaskingError, RecursionError, ValueError):
            return "(unrepresentable event)"
