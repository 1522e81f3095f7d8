#!/bin/bash
# Remove the SeatGuard agent that install.sh put on this Mac; run as root.
#
#   uninstall.sh [--prefix DIR] [--home DIR] [--purge]
#
# Stops the agent for every logged-in user, removes the LaunchAgent, the program and the status
# command. The agent home (enrollment, unsent sealed events) is kept unless --purge is given.
# The PPPC profile is removed through your MDM.
set -euo pipefail

PREFIX=/Library/SeatGuard
AGENT_HOME="/Library/Application Support/SeatGuard/agent"
PURGE=0
LABEL=com.seatguard.agent
PLIST="/Library/LaunchAgents/$LABEL.plist"

say() { printf 'seatguard-uninstall: %s\n' "$*" >&2; }
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then say "error: $1 needs a value"; exit 64; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --home) need_value "$@"; AGENT_HOME="$2"; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p;}' "$0"; exit 0 ;;
    *) say "error: unknown option $1 (see --help)"; exit 64 ;;
  esac
done
[ "$(id -u)" = 0 ] || { say "error: run as root (sudo)"; exit 64; }

# every GUI session that has the agent loaded
for uid in $(ps -axo uid=,comm= | awk '$2 ~ /loginwindow$/ {print $1}' | sort -u); do
  launchctl bootout "gui/$uid/$LABEL" 2>/dev/null || true
done
rm -f "$PLIST"
if [ "$(readlink /usr/local/bin/seatguard-status 2>/dev/null)" = "$PREFIX/bin/seatguard-status" ]; then
  rm -f /usr/local/bin/seatguard-status
fi
rm -rf "${PREFIX:?}/agent" "${PREFIX:?}/bin" "${PREFIX:?}/uninstall.sh"
rmdir "$PREFIX" 2>/dev/null || true
if [ "$PURGE" = 1 ]; then
  rm -rf "$AGENT_HOME"
  say "removed the agent home $AGENT_HOME (enrollment and unsent events)"
else
  say "kept the agent home $AGENT_HOME; --purge removes it"
fi
say "SeatGuard agent removed"
