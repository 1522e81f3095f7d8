"""Screenshots: sealed blobs from agents, kept sealed at rest, opened only for the security role.

The agent seals each PNG with HPKE to the collector key and signs it (``contract.wire.seal_blob``). The
collector verifies the signature and that the blob opens, then stores the *sealed* envelope. A
screenshot is decrypted only when an admin or security user asks for it, and that read is audited.

A blob is identified by (agent_id, blob_id): one agent cannot take another's ids. Each agent may store
at most ``blob_quota_count_per_day`` screenshots and ``blob_quota_bytes_per_day`` bytes per local day
(the collector's ``timezone``) and ``blob_rate_per_min`` in any 60 seconds; past that the blob is
refused with 429 ``blob_quota`` or ``blob_rate`` (logged, counted in ``seatguard_blobs_total`` and the
rejections), and its signed refusal tells the agent to park it rather than retry. The check and the
insert share one write transaction that first locks the agent's row (PostgreSQL ``FOR UPDATE``; SQLite's
write lock already serialises), so concurrent uploads of one agent cannot overrun the quota.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from collector.access import AccessService
from collector.accounts import Principal
from collector.config import Settings
from collector.errors import Forbidden, NotFound, Rejected
from collector.ingest import IngestService
from collector.metrics import Metrics
from collector.storage.base import Store
from collector.storage.screenshots import BlobQuota
from contract import wire
from contract.errors import WireError

log = logging.getLogger(__name__)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VIEW_ROLES = ("admin", "security")


@dataclass(frozen=True)
class BlobLimits:
    """The settings screenshots obey: the body limit and each agent's quotas per local day (``tz``)."""

    tz: tzinfo
    max_body_bytes: int
    count_per_day: int
    bytes_per_day: int
    rate_per_min: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BlobLimits:
        return cls(settings.tz, int(settings.max_body_bytes), int(settings.blob_quota_count_per_day),
                   int(settings.blob_quota_bytes_per_day), int(settings.blob_rate_per_min))

    def quota(self, now: float) -> BlobQuota:
        """The quotas as of ``now``: the day's count starts at local midnight."""
        day_start = datetime.fromtimestamp(now, self.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        return BlobQuota(day_start.timestamp(), self.count_per_day, self.bytes_per_day, self.rate_per_min)


class ScreenshotService:
    def __init__(self, store: Store, ingest: IngestService, access: AccessService, metrics: Metrics,
                 limits: BlobLimits) -> None:
        self.repo = store.screenshots
        self.ingest = ingest  # verification, opening and counted refusals are ingest's
        self.access = access
        self.metrics = metrics
        self.limits = limits

    def handle(self, body: bytes) -> dict[str, Any]:
        ingest = self.ingest
        if len(body) > self.limits.max_body_bytes:
            raise ingest.reject("too_large", f"blob of {len(body)} bytes exceeds the limit")
        try:
            env = wire.parse_blob_envelope(body)
        except WireError as exc:
            raise ingest.reject(exc.code, exc.message) from exc
        key = ingest.agent_key(env.agent_id)
        try:
            wire.verify_blob(env, key)
        except WireError as exc:
            raise ingest.reject(exc.code, exc.message, env.agent_id) from exc
        ingest.check_window(env.sealed_at, datetime.now(UTC), env.agent_id, "blob")
        ring = ingest.keyring.open_keys(time.time())
        try:
            data, index = wire.open_blob_with(env, [k for _, k in ring])
        except WireError as exc:
            raise ingest.reject(exc.code, exc.message, env.agent_id) from exc
        ingest.note_opened(env.agent_id, ring[index][0])
        if not data.startswith(PNG_MAGIC):
            raise ingest.reject("malformed", "the blob is not a PNG image", env.agent_id)
        now = time.time()
        outcome = self.repo.add(env.agent_id, env.blob_id, env.sealed_at, len(data), body.decode(), now,
                                 self.limits.quota(now))
        if outcome is not None:
            code, why = outcome
            self.metrics.blobs.labels(code).inc()
            if code == "duplicate":
                return {"status": "duplicate", "blob_id": env.blob_id}
            raise ingest.reject(code, f"screenshot {env.blob_id} refused: {why}", env.agent_id)
        self.metrics.blobs.labels("stored").inc()
        log.info("screenshot %s from %s stored sealed (%d bytes)", env.blob_id, env.agent_id, len(data))
        return {"status": "stored", "blob_id": env.blob_id}

    def image_for(self, who: Principal, agent_id: str, blob_id: str, remote: str | None = None) -> bytes:
        """The PNG, for admin and security only; every look (allowed or not) is audited."""
        allowed = who.role in VIEW_ROLES
        self.access.audit(who, "read_screenshot", f"{agent_id}/{blob_id}", allowed, remote, agent_id)
        if not allowed:
            raise Forbidden(f"role {who.role!r} may not read_screenshot")
        stored = self.repo.envelope(agent_id, blob_id)
        if stored is None:
            raise NotFound(f"no screenshot {blob_id!r} for agent {agent_id!r}")
        env = wire.parse_blob_envelope(stored.encode())
        try:
            return wire.open_blob(env, self.ingest.open_keys())  # sealed to any generation, kept
        except WireError as exc:
            raise Rejected("tampered_ciphertext", "the stored screenshot no longer opens") from exc

    def purge(self, before_ts: float, held: Collection[str] = ()) -> dict[str, int]:
        """Retention of the sealed screenshots: the ``screenshot`` kind's period, none of an agent in ``held``."""
        return {"screenshots": self.repo.purge(before_ts, held)}
