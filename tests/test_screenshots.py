"""Screenshots travel sealed, stay sealed at rest, and open only for admin and security (audited)."""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from pathlib import Path
from struct import pack

import requests

from agent.config import load_config
from agent.identity import load_identity
from agent.pipeline import BatchBuilder, open_spool
from agent.transport import HttpTransport
from agent.trust import Trust
from agent.uploader import Backoff, Uploader
from tests.conftest import COLLECTOR, CollectorProcess, run_cli


def tiny_png(marker: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + marker[:3].ljust(3, b"\x00") * 4 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"tEXt", b"marker\x00" + marker) + chunk(b"IEND", b""))


def test_screenshot_is_sealed_uploaded_and_viewable_by_security_only(collector: CollectorProcess,
                                                                     tmp_path: Path) -> None:
    home = tmp_path / "agent"
    collector.enroll(home, "pc-shot")
    config = load_config(home)
    identity = load_identity(home)
    spool = open_spool(home, config)
    png = tiny_png(b"SCREEN-MARKER-7731")
    BatchBuilder(identity, spool, config).emit_blob("shot1", png)
    on_disk = (home / "spool.db").read_bytes() + (home / "spool.db-wal").read_bytes()
    assert b"SCREEN-MARKER-7731" not in on_disk, "the PC keeps the screenshot sealed"
    transport = HttpTransport(identity.collector_url)
    assert Uploader(spool, transport, Trust(home, identity), Backoff(0.05, 0.2)).drain(threading.Event())
    assert spool.stats()["blobs"] == 0
    spool.close()
    db = sqlite3.connect(collector.data / "seatguard.db")
    stored = db.execute("SELECT envelope FROM screenshots WHERE blob_id='shot1'").fetchone()[0]
    db.close()
    assert "SCREEN-MARKER" not in stored and json.loads(stored)["agent_id"] == "pc-shot"

    def token(name: str, role: str, *team: str) -> dict[str, str]:
        extra = ["--team", team[0]] if team else []
        run_cli(COLLECTOR, "user", "add", "--data", str(collector.data), "--name", name, "--role", role, *extra)
        tok = run_cli(COLLECTOR, "token", "create", "--data", str(collector.data), "--user", name).strip()
        return {"Authorization": f"Bearer {tok}"}

    url = f"{collector.url}/api/v1/agents/pc-shot/screenshots/shot1"
    ok = requests.get(url, headers=token("sec", "security"), timeout=10)
    assert ok.status_code == 200 and ok.content == png and ok.headers["content-type"] == "image/png"
    refused = requests.get(url, headers=token("mgr", "manager", "cs-a"), timeout=10)
    assert refused.status_code == 403
    # a replayed upload is a duplicate, a forged one is refused
    again = requests.post(f"{collector.url}/api/v1/blobs", data=stored.encode(), timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    receipt = again.json()["receipt"]
    assert (receipt["kind"], receipt["blob_id"], receipt["outcome"]) == ("blob", "shot1", "duplicate")
    forged = json.loads(stored)
    forged["blob_id"] = "shot2"
    bad = requests.post(f"{collector.url}/api/v1/blobs", data=json.dumps(forged), timeout=10)
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_signature"
