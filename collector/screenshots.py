"""Screenshots: sealed blobs from agents, kept sealed at rest, opened only for the security role.

The agent seals each PNG with HPKE to the collector key and signs it (``agent.wire.seal_blob``). The
collector verifies the signature and that the blob opens, then stores the *sealed* envelope. A
screenshot is decrypted only when an admin or security user asks for it, and that read is audited.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text, and_, insert, select
from sqlalchemy.exc import IntegrityError

from agent import wire
from agent.errors import WireError
from collector.accounts import Principal
from collector.errors import Forbidden, NotFound, Rejected

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger(__name__)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VIEW_ROLES = ("admin", "security")

metadata = MetaData()
screenshots = Table(
    "screenshots", metadata,
    Column("id", Integer().with_variant(BigInteger, "postgresql"), primary_key=True, autoincrement=True),
    Column("agent_id", String(64), nullable=False),
    Column("blob_id", String(64), nullable=False),  # unique per agent (revision 0006), not across agents
    Column("sealed_at", String(40), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("size", Integer, nullable=False),
    Column("envelope", Text, nullable=False),
    Index("uq_screenshots_agent_blob", "agent_id", "blob_id", unique=True),
    Index("ix_screenshots_agent_received", "agent_id", "received_at"),
)


class ScreenshotService:
    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.store = collector.store  # the screenshots table comes with the schema (revision 0003)

    def handle(self, body: bytes) -> dict[str, Any]:
        ingest = self.collector.ingest
        if len(body) > self.collector.settings.max_body_bytes:
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
        try:
            data = wire.open_blob(env, self.collector.key)
        except WireError as exc:
            raise ingest.reject(exc.code, exc.message, env.agent_id) from exc
        if not data.startswith(PNG_MAGIC):
            raise ingest.reject("malformed", "the blob is not a PNG image", env.agent_id)
        try:
            with self.store._write() as conn:
                conn.execute(insert(screenshots).values(
                    agent_id=env.agent_id, blob_id=env.blob_id, sealed_at=env.sealed_at, received_at=time.time(),
                    size=len(data), envelope=body.decode()))
        except IntegrityError:
            return {"status": "duplicate", "blob_id": env.blob_id}
        log.info("screenshot %s from %s stored sealed (%d bytes)", env.blob_id, env.agent_id, len(data))
        return {"status": "stored", "blob_id": env.blob_id}

    def image_for(self, who: Principal, agent_id: str, blob_id: str, remote: str | None = None) -> bytes:
        """The PNG, for admin and security only; every look (allowed or not) is audited."""
        allowed = who.role in VIEW_ROLES
        self.collector.access.audit(who, "read_screenshot", f"{agent_id}/{blob_id}", allowed, remote, agent_id)
        if not allowed:
            raise Forbidden(f"role {who.role!r} may not read_screenshot")
        with self.store._read() as conn:
            row = conn.execute(select(screenshots.c.envelope).where(
                and_(screenshots.c.agent_id == agent_id, screenshots.c.blob_id == blob_id))).first()
        if row is None:
            raise NotFound(f"no screenshot {blob_id!r} for agent {agent_id!r}")
        env = wire.parse_blob_envelope(str(row[0]).encode())
        try:
            return wire.open_blob(env, self.collector.key)
        except WireError as exc:
            raise Rejected("tampered_ciphertext", "the stored screenshot no longer opens") from exc

    def purge(self, before_ts: float) -> dict[str, int]:
        with self.store._write() as conn:
            gone = conn.execute(screenshots.delete().where(screenshots.c.received_at < before_ts)).rowcount
        return {"screenshots": int(gone or 0)}
