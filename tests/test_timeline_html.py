"""`seatguard-collector timeline --format html` writes a self-contained, masked page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collector.cli import main as collector_main
from tests.conftest import RAW_IDS
from tests.test_ingest_rejections import Harness


def test_timeline_html_is_self_contained_and_masked(tmp_path: Path) -> None:
    h = Harness(tmp_path / "c")
    try:
        events = h.events(5)
        h.seq += 1
        events.append({"schema": 1, "agent_id": "pc-1", "seq": h.seq, "ts": events[-1]["ts"], "kind": "case.open",
                       "case_id": "C-2026-0000001", "app": "chrome.exe", "title": "Case C-2026-0000001"})
        assert h.post(h.seal(1, events)).status_code == 200
        day = datetime.now(UTC).astimezone(h.collector.settings.tz).date().isoformat()
    finally:
        h.client.close()
        h.collector.close()
    out = tmp_path / "tl.html"
    assert collector_main(["timeline", "--data", str(tmp_path / "c"), "--agent", "pc-1", "--date", day,
                           "--format", "html", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "pc-1" in page and "C-2026-0000001" in page
    assert "<style>" in page and 'src="/static' not in page and 'href="/static' not in page
    assert RAW_IDS[0] not in page and RAW_IDS[0][-4:] in page
