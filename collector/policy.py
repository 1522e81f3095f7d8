"""The policy agents follow; it lives on the collector and reaches agents with every batch answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from typing import Any

from collector.errors import Conflict
from collector.storage.base import Store
from collector.storage.notify import ChangeFeed
from collector.storage.policy_versions import PolicyVersion
from contract.policy import Policy, PolicyError, key_names
from contract.signed_policy import policy_hash

log = logging.getLogger(__name__)

# What a new collector hands out (version 1). Every other key takes its default from the contract's
# table (:mod:`contract.policy`), on the agents and in the detectors alike. This text is hashed into
# what agents report, so it stays as issued; ``tests/test_policy_contract.py`` checks it validates.
DEFAULT_POLICY: dict[str, Any] = {
    "version": 1,
    "case_id_patterns": [r"\b(C-\d{4}-\d{7})\b"],
    "idle_threshold_s": 300,
    "case_absence_s": 600,
    "screenshot_triggers": ["remote_access_process", "screen_capture_process", "messaging_after_sensitive_copy"],
    "clear_sensitive_copies": False,
    "watched_folders": ["~/Downloads", "~/Desktop", "~/Documents"],
}


def known_policy_keys() -> set[str]:
    """Every key an admin may set (the contract's table)."""
    return set(key_names())


def policy_problem(policy: dict[str, Any]) -> str | None:
    """Why the contract refuses this policy (None when it is valid); the agents' sensors and the
    detectors read it through the same table, so what passes here passes there."""
    try:
        Policy.parse(policy, strict=True)
    except PolicyError as exc:
        return str(exc)
    return None


def left_out(policy: dict[str, Any]) -> list[str]:
    """"key: pattern: why" of each stored pattern that the sensors and the detectors leave out of ``policy``
    (its matching is not linear): shown to the admin, for whom the editor still shows it as if in force."""
    try:
        return list(Policy.parse(policy).disabled_patterns)
    except PolicyError:
        return []  # not a policy the readers take at all (refused as a whole, with its own log)


class PolicyService:
    """The policy in force and every version issued, kept in ``policy_versions`` (revision 0009).

    Reads are served from memory. Another process's save reaches this one by a change notice
    (PostgreSQL LISTEN/NOTIFY, :mod:`collector.storage.notify`); without live notices (SQLite, or
    while the listening connection is down) :meth:`current` checks the newest version at most every
    :attr:`CHECK_S` seconds, and with live notices every :attr:`LIVE_CHECK_S` (a notice lost on a
    connection dropped silently). A save is a compare-and-set on the version: a save based on a version
    that another one replaced raises :class:`collector.errors.Conflict`.
    """

    CHECK_S = 0.5
    # with live notices, still every this many seconds: a listening connection that a firewall dropped
    # without a word looks live, and its notices never come
    LIVE_CHECK_S = 30.0
    TOPIC = "policy"

    def __init__(self, store: Store, feed: ChangeFeed | None = None) -> None:
        self.store = store
        self.versions = store.policy_versions
        self.feed = feed or ChangeFeed()
        self._lock = threading.Lock()
        self._stale = True
        self._checked = 0.0
        self._cache: dict[str, Any] = dict(DEFAULT_POLICY)
        self._issued: dict[int, tuple[str, float]] = {}
        self.reloads = 0
        self.feed.subscribe(self.TOPIC, lambda _payload: self.invalidate())
        self.feed.on_reset(self.invalidate)

    def invalidate(self) -> None:
        """Read the policy again on next use (another process saved one)."""
        self._stale = True

    def current(self) -> dict[str, Any]:
        self._refresh()
        return self._cache

    def _refresh(self) -> None:
        if not self._stale:
            now = time.monotonic()
            if now - self._checked >= (self.LIVE_CHECK_S if self.feed.live else self.CHECK_S):
                self._checked = now
                if (self.versions.newest_version() or 1) != int(self._cache.get("version", 1)):
                    self._stale = True
        if self._stale:
            with self._lock:
                if self._stale:
                    self._stale = False  # before reading: a notice arriving meanwhile marks it stale again
                    try:
                        self._load()
                    except BaseException:
                        self._stale = True  # not read: the next use tries again (no other notice may come)
                        raise
                    self._checked = time.monotonic()

    def _load(self) -> None:
        rows = self.versions.all()
        issued = {r.version: (r.hash, r.saved_at) for r in rows}
        newest = next((r for r in reversed(rows) if r.body is not None), None)
        body = None if newest is None else newest.body
        policy = dict(DEFAULT_POLICY) if newest is None or body is None else {**body, "version": newest.version}
        if rows and newest is not None and newest.version != rows[-1].version:
            log.error("policy version %d has no stored text; serving version %d", rows[-1].version, newest.version)
        issued.setdefault(int(policy.get("version", 1)), (policy_hash(policy), 0.0))
        self._cache, self._issued = policy, issued
        self.reloads += 1

    def update(self, changes: dict[str, Any], expected_version: int | None = None,
               saved_by: str | None = None) -> dict[str, Any]:
        """Save ``changes`` over the policy in force as the next version. With ``expected_version`` (what
        the editor loaded), a policy saved meanwhile by anyone is a :class:`Conflict`; without it the
        changes go onto whatever version is in force at that moment (retried if a save races in)."""
        for _attempt in range(3):
            self.invalidate()
            base = self.current()
            version = int(base.get("version", 1))
            expected = version if expected_version is None else int(expected_version)
            policy = {**base, **changes, "version": expected + 1}
            rows = [PolicyVersion(version, base, policy_hash(base), self._issued.get(version, ("", 0.0))[1]),
                    PolicyVersion(expected + 1, policy, policy_hash(policy), time.time())]
            try:
                self.versions.save(expected, rows, saved_by,
                                   lambda conn, v=expected + 1: self.feed.notify_in(conn, self.TOPIC, {"version": v}))
            except Conflict:
                self.invalidate()  # the next read shows what won
                if expected_version is not None:
                    raise
                continue
            self.invalidate()
            log.info("policy version %d saved%s", expected + 1, f" by {saved_by}" if saved_by else "")
            return self.current()
        raise Conflict("the policy kept changing while saving; try again")

    def issued(self, covering: Collection[int] = ()) -> dict[int, tuple[str, float]]:
        """Every policy version this deployment handed out: its hash and when it took effect (the one in force
        is always there; versions from before this record was kept are absent). A version in ``covering``
        (what heartbeats name) that this process has not heard of yet is looked up in the database at
        once, so a save on another collector a moment ago is never taken for a forgery: by one cheap query,
        and every version is read again only when a newer one is there (a forged version in every batch must
        not read them all each time)."""
        self._refresh()
        known = max(self._issued)
        if any(int(v) > known for v in covering) and (self.versions.newest_version() or 1) > known:
            self.refresh_now()
        return self._issued

    def refresh_now(self) -> None:
        """Read the newest version at once (a heartbeat named a version this process has not heard of)."""
        self.invalidate()
        self._refresh()
