"""``seatguard-agent run``: sensors -> batch builder -> spool -> uploader, until SIGTERM.

Sensors are looked up by name in the sensor registry (``agent.sensors``) when it is installed; the
runner itself always emits agent.start, agent.heartbeat (spool depth, drops, own CPU and RSS) and,
on a clean stop, agent.stop.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import platform
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent import __version__
from agent.config import AgentConfig
from agent.errors import ConfigError
from agent.identity import Identity, save_policy
from agent.locking import try_lock, unlock
from agent.pipeline import BatchBuilder
from agent.spool import Spool
from agent.transport import HttpTransport, require_secure
from agent.trust import Trust
from agent.uploader import Backoff, Uploader
from contract.errors import ReceiptError
from contract.policy import Policy, PolicyError
from contract.signed_policy import VerifiedPolicy, accept_policy, policy_hash, policy_version, verify_policy

log = logging.getLogger(__name__)
LOCK_FILE = "agent.lock"
RUN_STATUS_FILE = "run_status.json"

SensorFactory = Callable[..., list[Any]]
"""(sink, policy dict, home=Path) -> sensors in start order (``agent.sensors.factory.build_sensors``)."""


class InstanceLock:
    """One running agent per home folder (and so per user)."""

    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._fh: Any = None

    def acquire(self) -> None:
        self._fh = self.path.open("a+")
        if not try_lock(self._fh.fileno()):
            self._fh.close()
            self._fh = None
            raise ConfigError(f"another seatguard-agent is already running for {self.path.parent}")
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            unlock(self._fh.fileno())
            self._fh.close()
            self._fh = None


class ProcessProbe:
    """The agent's own CPU and memory, for heartbeats and the self-watchdog."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), time.process_time())

    def sample(self) -> tuple[float, float]:
        now, cpu = time.monotonic(), time.process_time()
        wall = max(now - self._last[0], 1e-6)
        pct = max(0.0, (cpu - self._last[1]) / wall * 100.0)
        self._last = (now, cpu)
        rss_mb = 0.0
        try:
            with open("/proc/self/statm", encoding="ascii") as fh:
                rss_mb = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576
        except (OSError, ValueError, IndexError):
            try:
                import psutil

                rss_mb = psutil.Process().memory_info().rss / 1048576
            except (ImportError, OSError):
                rss_mb = 0.0
        return round(pct, 2), round(rss_mb, 1)


class Runner:
    def __init__(self, home: Path, identity: Identity, spool: Spool, config: AgentConfig,
                 sensor_factory: SensorFactory | None = None) -> None:
        self.home = home
        self.identity = identity
        self.spool = spool
        self.config = config
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.builder = BatchBuilder(identity, spool, config, on_sealed=self.wake)
        self.transport = HttpTransport(identity.collector_url, config.http_timeout_s, config.tls)
        self.insecure = require_secure(identity.collector_url, config.allow_insecure_http, config.tls)
        self.trust = Trust(home, identity)
        self.uploader = Uploader(spool, self.transport, self.trust,
                                 Backoff(config.backoff_min_s, config.backoff_max_s), on_reply=self._on_reply)
        self.sensor_factory = sensor_factory
        self.sensors: list[Any] = []
        self.probe = ProcessProbe()
        self._check_collector()
        self.in_force = self._stored_policy()
        self.policy = dict(self.in_force.policy)
        self.policy_changed = threading.Event()
        self.refused_hash: str | None = None  # a signed policy this release cannot read (said once)
        self._over_limit = 0

    def _check_collector(self) -> None:
        """A collector URL or HPKE key other than at the last start (an edited enrollment record) is counted
        and reported in the next heartbeat (``collector_changes``); the collector records it."""
        if self.spool.note_collector(self.identity.collector_fingerprint, self.identity.enrolled_collector):
            log.warning("the collector URL or key changed since the last start (now %s): reported to the collector",
                        self.identity.collector_url)

    def _stored_policy(self) -> VerifiedPolicy:
        """The policy in the enrollment record, applied only if it still verifies. An agent enrolled before
        signed answers keeps its unsigned one until the first signed answer replaces it."""
        if not self.trust.ready:
            legacy = dict(self.identity.policy)
            return VerifiedPolicy(legacy, policy_version(legacy), policy_hash(legacy), {})
        try:
            # every key of the record: the one that signed it may have been rotated out since it was stored
            return verify_policy(self.identity.signed_policy, self.trust.stored_keys, self.identity.agent_id)
        except ReceiptError as exc:
            log.error("the stored policy does not verify (%s): running the built-in defaults until the "
                      "collector sends a signed one", exc)
            self.spool.note_unsigned()
            return VerifiedPolicy({}, 0, policy_hash({}), {})

    def _on_reply(self, body: dict[str, Any]) -> None:
        """A batch answer with a valid receipt: apply its policy if it is signed, for us, and not older."""
        try:
            found = accept_policy(body.get("signed_policy"), self.trust.keys, self.identity.agent_id, self.in_force)
        except ReceiptError as exc:
            self.spool.note_unsigned()
            log.error("policy in the collector's answer refused (%s); keeping version %d", exc, self.in_force.version)
            return
        if found is None:
            self._resigned(body.get("signed_policy"))
            return
        if not self._usable(found):
            return
        self.in_force = found
        self.policy = dict(found.policy)
        save_policy(self.home, self.policy, found.signed)
        log.info("policy updated by the collector (version %d)", found.version)
        self.policy_changed.set()

    def _usable(self, found: VerifiedPolicy) -> bool:
        """Can this release read the signed policy (a newer collector's may have a key of another type or
        a trigger this one does not know)? If not, the policy in force stays, so the sensors never fall
        back to the built-in defaults, and the heartbeats go on naming its version and hash (the collector
        records the mismatch); the reason is logged once per policy."""
        try:
            Policy.parse(found.policy)
        except (PolicyError, TypeError, ValueError) as exc:
            if found.hash != self.refused_hash:
                self.refused_hash = found.hash
                log.error("this agent cannot read the collector's policy version %d (%s); keeping version %d",
                          found.version, exc, self.in_force.version)
            return False
        return True

    def _resigned(self, signed: Any) -> None:
        """The policy in force, signed anew (a key rotation): keep the new signature, so that the stored
        policy still verifies once the old key is dropped."""
        if not isinstance(signed, dict) or signed.get("key_id") == self.in_force.signed.get("key_id"):
            return
        self.in_force = verify_policy(signed, self.trust.keys, self.identity.agent_id)  # accept_policy checked it
        save_policy(self.home, self.policy, self.in_force.signed)
        log.info("policy version %d re-signed by collector key %s", self.in_force.version, signed.get("key_id"))

    def start_sensors(self) -> None:
        if self.sensor_factory is None:
            return
        self.sensors = self.sensor_factory(self.builder, self.policy, home=self.home)
        for sensor in self.sensors:
            try:
                sensor.start()
            except Exception:  # one broken sensor must not stop the others (or the uploads)
                log.exception("sensor %s failed to start", getattr(sensor, "name", sensor))

    def stop_sensors(self) -> None:
        for sensor in reversed(self.sensors):
            try:
                sensor.stop()
            except Exception:  # a broken sensor must not keep the agent from stopping cleanly
                log.exception("sensor %s failed to stop", getattr(sensor, "name", sensor))
        self.sensors = []

    def restart_sensors(self, why: str) -> None:
        log.warning("restarting the sensors: %s", why)
        self.stop_sensors()
        self.start_sensors()

    def watchdog(self, cpu: float, rss: float) -> None:
        """Restart the sensors when the agent's own CPU or memory stays above its limits."""
        over = rss > self.config.watchdog_rss_mb or cpu > self.config.watchdog_cpu_pct
        self._over_limit = self._over_limit + 1 if over else 0
        if self._over_limit >= self.config.watchdog_samples:
            self._over_limit = 0
            self.restart_sensors(f"cpu {cpu:.1f}% / rss {rss:.0f} MB above the limits for "
                                 f"{self.config.watchdog_samples} heartbeats")

    def heartbeat(self) -> None:
        stats = self.spool.stats()
        cpu, rss = self.probe.sample()
        self.watchdog(cpu, rss)
        self.builder.emit("agent.heartbeat", {
            "spool_depth": stats["depth_events"],
            "dropped_total": stats["dropped_total"] + self.builder.lost_events,
            "cpu_pct": cpu,
            "rss_mb": rss,
            "policy_version": self.in_force.version,
            "policy_hash": self.in_force.hash,
            "unsigned_answers": stats["unsigned_answers"],
            "collector_changes": stats["collector_changes"],
            **({"insecure_transport": True} if self.insecure else {}),
        })
        self._write_status(stats)

    def _write_status(self, stats: dict[str, Any]) -> None:
        status = {
            "pid": os.getpid(),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sensors": {getattr(s, "name", type(s).__name__): _sensor_status(s) for s in self.sensors},
            "lost_in_memory": self.builder.lost_events,
        }
        try:
            tmp = self.home / (RUN_STATUS_FILE + ".tmp")
            tmp.write_bytes(json.dumps(status).encode())
            os.replace(tmp, self.home / RUN_STATUS_FILE)
        except OSError:
            log.warning("could not write %s (disk full?)", RUN_STATUS_FILE)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        self.builder.emit("agent.start", {
            "version": __version__, "os": f"{platform.system()} {platform.release()}",
            "hostname": socket.gethostname(), "user": getpass.getuser(),
        })
        self.start_sensors()
        upload_thread = threading.Thread(target=self.uploader.run, name="uploader",
                                         args=(self.stop_event, 1.0, self.wake), daemon=True)
        upload_thread.start()
        log.info("agent %s running; collector %s", self.identity.agent_id, self.identity.collector_url)
        next_beat = time.monotonic()
        while not self.stop_event.is_set():
            if time.monotonic() >= next_beat:
                self.heartbeat()
                next_beat = time.monotonic() + self.config.heartbeat_s
            self.builder.flush_if_old()
            if self.policy_changed.is_set():
                self.policy_changed.clear()
                self.restart_sensors("the collector sent a new policy")
            self.stop_event.wait(min(0.5, max(0.05, next_beat - time.monotonic())))
        self.stop_sensors()
        self.builder.emit("agent.stop", {"reason": "signal"})
        self.builder.flush()
        upload_thread.join(timeout=10)
        final = threading.Event()
        deadline = threading.Timer(5.0, final.set)
        deadline.start()
        self.uploader.drain(final)
        deadline.cancel()
        self.transport.close()
        log.info("agent stopped")
        return 0


def _sensor_status(sensor: Any) -> Any:
    try:
        return sensor.status()
    except Exception as exc:  # status must never take the agent down
        return {"available": False, "why": f"status failed: {type(exc).__name__}"}
