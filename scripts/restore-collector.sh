#!/usr/bin/env bash
# Restore a collector data folder from a backup made by scripts/backup-collector.sh.
#
#   scripts/restore-collector.sh --from BACKUP_DIR --data NEW_DIR
#
# Checks every file against MANIFEST.json (SHA-256) and every database with PRAGMA integrity_check,
# then writes NEW_DIR, which must not exist or be empty: restore into a new folder, check it with
# `seatguard-collector stats --data NEW_DIR`, then point the service at it (or stop the collector
# and move it into place). PYTHON overrides the interpreter (default python3).
set -euo pipefail

FROM=""
DATA=""
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then echo "${0##*/}: $1 needs a value" >&2; exit 64; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --from) need "$@"; FROM="$2"; shift 2 ;;
    --data) need "$@"; DATA="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p;}' "$0"; exit 0 ;;
    *) echo "restore-collector: unknown option $1" >&2; exit 64 ;;
  esac
done
if [ -z "$FROM" ] || [ -z "$DATA" ]; then echo "restore-collector: --from and --data are required" >&2; exit 64; fi

umask 077
exec "${PYTHON:-python3}" - "$FROM" "$DATA" <<'PY'
import hashlib
import json
import shutil
import sqlite3
import sys
from pathlib import Path

backup, data = Path(sys.argv[1]), Path(sys.argv[2])


def fail(message: str) -> None:
    print(f"restore-collector: error: {message}", file=sys.stderr)
    sys.exit(1)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


try:
    manifest = json.loads((backup / "MANIFEST.json").read_text(encoding="utf-8"))
except (OSError, ValueError) as exc:
    fail(f"{backup} is not a collector backup ({exc})")
if manifest.get("format") != 1:
    fail(f"{backup}: unknown backup format {manifest.get('format')!r}")
for entry in manifest["files"]:
    path = backup / entry["path"]
    if not path.is_file() or sha256(path) != entry["sha256"]:
        fail(f"{path}: missing or altered since the backup (SHA-256 differs)")
if data.exists() and any(data.iterdir()):
    fail(f"{data} is not empty: restore into a new folder")
data.mkdir(parents=True, exist_ok=True)
data.chmod(0o700)
for entry in manifest["files"]:
    src, dest = backup / entry["path"], data / entry["path"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    dest.chmod(0o600)
    if entry["kind"] == "sqlite":
        conn = sqlite3.connect(dest)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if result != "ok":
            fail(f"{dest}: PRAGMA integrity_check says {result}")
print(f"restore-collector: {len(manifest['files'])} files from {backup} (made {manifest['created_at']}) in {data}",
      file=sys.stderr)
PY
