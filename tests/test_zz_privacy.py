"""Privacy rule 1, checked after everything else ran (this file sorts last; under ``-n`` it runs on the
last worker, once every other has finished: tests.parallel).

Scans every database file and log that the suite's collectors wrote for any raw ID, phone or card
number used as test data, in plain, UTF-16 and full-width spellings, and for a plain (unkeyed) hash of
one (SHA-256, SHA-1, MD5, BLAKE2b; what a customer key must never be, see detectors.need_to_know), and
fails on any hit.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.conftest import DATA_DIRS, RAW_IDS
from tests.parallel import collector_data_dirs

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


def _data_dirs() -> list[Path]:
    """This process's collector folders and, under ``-n``, every other worker's (tests.parallel)."""
    return list(dict.fromkeys(collector_data_dirs(DATA_DIRS)))


def _known_raw_numbers() -> set[str]:
    numbers = set(RAW_IDS)
    for data in _data_dirs():
        for listing in data.parent.rglob("raw_identifiers.txt"):
            numbers.update(x.strip() for x in listing.read_text(encoding="utf-8").splitlines() if x.strip())
    return numbers


# Where any needle can only lie: runs of digits and X's (plain; UTF-16: each followed by a NUL; full width:
# the three UTF-8 bytes of ０-９ and Ｘ), and runs of hex digits (the plain hashes). One pass per run shape
# over a file, then the needles are looked for in the runs alone (a needle inside a longer run is found).
_RUNS = (
    re.compile(rb"[0-9Xx]{11,}"),
    re.compile(rb"(?:[0-9Xx]\x00){11,}"),
    re.compile(rb"(?:\xef\xbc[\x90-\x99\xb8]){11,}"),
    re.compile(rb"[0-9A-Fa-f]{12,}"),
)


_HEAD = 11  # every needle is at least this many bytes long: they are looked up by their first _HEAD bytes


def index(needles: dict[str, list[bytes]]) -> dict[bytes, list[tuple[str, bytes]]]:
    """The needles by their first bytes (what :func:`leaks` looks up)."""
    heads: dict[bytes, list[tuple[str, bytes]]] = {}
    for raw, ns in needles.items():
        for n in ns:
            assert len(n) >= _HEAD, n
            heads.setdefault(n[:_HEAD], []).append((raw, n))
    return heads


def leaks(blob: bytes, heads: dict[bytes, list[tuple[str, bytes]]]) -> set[str]:
    """The raw numbers whose needles ``blob`` holds: each place in a run where a needle may start is
    looked up by its first bytes, so the work grows with the runs, not with the number of needles."""
    found: set[str] = set()
    for pattern in _RUNS:
        for m in pattern.finditer(blob):
            run = m.group()
            for i in range(len(run) - _HEAD + 1):
                for raw, n in heads.get(run[i:i + _HEAD], ()):
                    if run.startswith(n, i):
                        found.add(raw)
    return found


def test_no_raw_identifier_reached_any_collector_file() -> None:
    scanned = [d for d in _data_dirs() if d.exists()]
    assert scanned, "the suite should have left collector data folders to scan"
    numbers = _known_raw_numbers()
    assert len(numbers) >= len(RAW_IDS)
    heads = index({raw: _needles(raw) for raw in numbers})
    hits = []
    files = 0
    for data in scanned:
        for path in data.rglob("*"):
            if not path.is_file() or path.suffix == ".pem":
                continue
            files += 1
            hits.extend(f"{path}: {raw[:4]}…" for raw in sorted(leaks(path.read_bytes(), heads)))
    assert files > 0
    assert not hits, "raw identifiers found in collector storage or logs:\n" + "\n".join(hits[:20])


def test_scan_would_catch_a_leak(tmp_path: Path) -> None:
    raw = RAW_IDS[0]
    needles = index({r: _needles(r) for r in RAW_IDS})
    digest = hashlib.sha256(raw[:17].encode()).hexdigest()
    for blob in (f"something {raw} here".encode(),
                 f"in a longer run 99{raw}12".encode(),  # a needle inside a longer run of digits
                 f"utf-16 {raw} in a page".encode("utf-16-le"),
                 f"full width {raw.translate(_FULLWIDTH)}".encode(),
                 f'{{"customers": ["{digest}"]}}'.encode(),
                 f'{{"key": "ab{digest.upper()[:2]}{digest}"}}'.encode()):
        assert raw in leaks(blob, needles), blob
    assert leaks(b"masked ****************7777 and 2026-11-23 12:00:00 and deadbeef", needles) == set()
    leaked = tmp_path / "leak.log"
    leaked.write_text(f"something {raw} here", encoding="utf-8")
    assert raw in leaks(leaked.read_bytes(), needles)
