"""Privacy rule 1, checked after everything else ran (this file sorts last).

Scans every database file and log that the suite's collectors wrote for any raw ID, phone or card
number used as test data, in plain, UTF-16 and full-width spellings, and for a plain (unkeyed) hash of
one (SHA-256, SHA-1, MD5, BLAKE2b; what a customer key must never be, see detectors.need_to_know), and
fails on any hit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import DATA_DIRS, RAW_IDS

_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def _needles(raw: str) -> list[bytes]:
    plain = [raw.encode(), raw.encode("utf-16-le"), raw.translate(_FULLWIDTH).encode()]
    return plain + _plain_hashes(raw) if raw in RAW_IDS else plain  # hashes of the fixed test data only


def _plain_hashes(raw: str) -> list[bytes]:
    """The first 12 hex digits of plain hashes of the number (and of its digits, as a URL pattern takes it)."""
    out = []
    for text in {raw, raw.rstrip("Xx")}:
        data = text.encode()
        for h in (hashlib.sha256(data), hashlib.sha1(data), hashlib.md5(data), hashlib.blake2b(data)):
            out.append(h.hexdigest()[:12].encode())
    return out


def _known_raw_numbers() -> set[str]:
    numbers = set(RAW_IDS)
    for data in DATA_DIRS:
        for listing in data.parent.rglob("raw_identifiers.txt"):
            numbers.update(x.strip() for x in listing.read_text(encoding="utf-8").splitlines() if x.strip())
    return numbers


def test_no_raw_identifier_reached_any_collector_file() -> None:
    scanned = [d for d in DATA_DIRS if d.exists()]
    assert scanned, "the suite should have left collector data folders to scan"
    numbers = _known_raw_numbers()
    assert len(numbers) >= len(RAW_IDS)
    hits = []
    files = 0
    for data in scanned:
        for path in data.rglob("*"):
            if not path.is_file() or path.suffix == ".pem":
                continue
            files += 1
            blob = path.read_bytes()
            for raw in numbers:
                if any(n in blob for n in _needles(raw)):
                    hits.append(f"{path}: {raw[:4]}…")
    assert files > 0
    assert not hits, "raw identifiers found in collector storage or logs:\n" + "\n".join(hits[:20])


def test_scan_would_catch_a_leak(tmp_path: Path) -> None:
    leaked = tmp_path / "leak.log"
    leaked.write_text(f"something {RAW_IDS[0]} here", encoding="utf-8")
    assert any(n in leaked.read_bytes() for n in _needles(RAW_IDS[0]))
    hashed = tmp_path / "hashed.json"
    hashed.write_text(f'{{"customers": ["{hashlib.sha256(RAW_IDS[0][:17].encode()).hexdigest()}"]}}', encoding="utf-8")
    assert any(n in hashed.read_bytes() for n in _needles(RAW_IDS[0]))
