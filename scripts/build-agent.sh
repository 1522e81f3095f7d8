#!/usr/bin/env bash
# Build the endpoint agent as a PyInstaller one-folder program: dist/seatguard-agent/seatguard-agent.
#
#   scripts/build-agent.sh [--dist DIR] [--work DIR]
#
# Needs PyInstaller in the Python that has the agent installed (the dev extra:
# `.venv/bin/pip install -e '.[dev]'`). PYTHON overrides that interpreter (default: .venv/bin/python).
# A PyInstaller build is for the OS it runs on: build the Windows and macOS folders on those systems.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DIST="$ROOT/dist"
WORK="$ROOT/build/pyinstaller"

while [ $# -gt 0 ]; do
  case "$1" in
    --dist) DIST="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p;}' "$0"; exit 0 ;;
    *) echo "build-agent: unknown option $1" >&2; exit 64 ;;
  esac
done

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  echo "build-agent: PyInstaller is not installed in $PYTHON (pip install pyinstaller)" >&2
  exit 69
fi
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/pyinstaller/seatguard-agent.spec"
"$DIST/seatguard-agent/seatguard-agent" --help >/dev/null
echo "build-agent: $DIST/seatguard-agent/seatguard-agent"
