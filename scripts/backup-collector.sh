#!/usr/bin/env bash
# Back up a collector data folder while the collector keeps serving.
#
#   scripts/backup-collector.sh --data DIR --out BACKUP_DIR [--with-logs]
#
# Every SQLite database in DIR is copied with SQLite's online backup API (one read transaction, so
# the copy is consistent even while batches are being ingested), checked with PRAGMA integrity_check,
# and stored with the other files of the folder: the collector key (collector_x25519.pem: without it
# no sealed batch can be opened), the signing key (collector_ed25519.pem), collector.toml and anything else, except WAL/SHM/journal files and
# (unless --with-logs) logs. MANIFEST.json lists every file with its SHA-256. BACKUP_DIR must not
# exist yet; it is created readable by its owner only (it holds the collector's private key).
# With db_url = postgresql://... the database itself is not in the folder: back it up with pg_dump.
# Restore with scripts/restore-collector.sh. PYTHON overrides the interpreter (default python3).
set -euo pipefail

DATA=""
OUT=""
WITH_LOGS=0
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then echo "${0##*/}: $1 needs a value" >&2; exit 64; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --data) need "$@"; DATA="$2"; shift 2 ;;
    --out) need "$@"; OUT="$2"; shift 2 ;;
    --with-logs) WITH_LOGS=1; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p;}' "$0"; exit 0 ;;
    *) echo "backup-collector: unknown option $1" >&2; exit 64 ;;
  esac
done
if [ -z "$DATA" ] || [ -z "$OUT" ]; then echo "backup-collector: --data and --out are required" >&2; exit 64; fi

umask 077
exec "${PYTHON:-python3}" - "$DATA" "$OUT" "$WITH_LOGS" <<'PY'
import hashlib
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

data, out, with_logs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
SKIP_SUFFIXES = ("-wal", "-shm", "-journal")


def fail(message: str) -> None:
    print(f"backup-collector: error: {message}", file=sys.stderr)
    sys.exit(1)


def is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_db(src: Path, dst: Path) -> None:
    source = sqlite3.connect(src, timeout=60)
    target = sqlite3.connect(dst)
    try:
        source.execute("PRAGMA busy_timeout=60000")
        source.backup(target)  # all pages in one step: one consistent snapshot
        result = target.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            fail(f"{src}: the copy fails PRAGMA integrity_check: {result}")
    except sqlite3.Error as exc:
        fail(f"{src}: {exc}")
    finally:
        target.close()
        source.close()


if not (data / "collector_x25519.pem").is_file():
    fail(f"{data} is not a collector data folder (no collector_x25519.pem)")
if out.exists():
    fail(f"{out} already exists: give a new folder")
out.mkdir(parents=True)
files = []
for path in sorted(p for p in data.rglob("*") if p.is_file()):
    rel = path.relative_to(data)
    if path.name.endswith(SKIP_SUFFIXES) or (not with_logs and path.suffix in (".log", ".out")):
        continue
    dest = out / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    kind = "sqlite" if is_sqlite(path) else "file"
    if kind == "sqlite":
        backup_db(path, dest)
    else:
        shutil.copy2(path, dest)
    files.append({"path": rel.as_posix(), "kind": kind, "sha256": sha256(dest), "bytes": dest.stat().st_size})
manifest = {"format": 1, "source": str(data.resolve()),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}
(out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
dbs = sum(1 for f in files if f["kind"] == "sqlite")
print(f"backup-collector: {len(files)} files ({dbs} SQLite databases) from {data} in {out}", file=sys.stderr)
PY
