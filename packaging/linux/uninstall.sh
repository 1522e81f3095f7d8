#!/usr/bin/env bash
# Remove the SeatGuard agent that install.sh put on this PC; run as root.
#
#   uninstall.sh [--prefix DIR] [--home DIR] [--root DIR] [--purge]
#
# Stops the agent in running desktop sessions, removes the program, the systemd user unit, the
# autostart entry, the status command and the browser policy. The agent home (enrollment and the
# sealed spool) is kept unless --purge is given: events still in the spool have not reached the
# collector yet (`seatguard-status` shows how many), and --purge deletes them.
set -euo pipefail

PREFIX=/opt/seatguard
AGENT_HOME=/var/opt/seatguard/agent
ROOT=/
PURGE=0

say() { printf 'seatguard-uninstall: %s\n' "$*" >&2; }
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then say "error: $1 needs a value"; exit 64; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --home) need_value "$@"; AGENT_HOME="$2"; shift 2 ;;
    --root) need_value "$@"; ROOT="$2"; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p;}' "$0"; exit 0 ;;
    *) say "error: unknown option $1 (see --help)"; exit 64 ;;
  esac
done
sysfile() { printf '%s%s' "${ROOT%/}" "$1"; }

# Stop the user unit in every running session (only on the real system, not a staging root).
if [ "$ROOT" = / ] && command -v loginctl >/dev/null 2>&1 && command -v systemctl >/dev/null 2>&1; then
  for uid in $(loginctl list-users --no-legend 2>/dev/null | awk '{print $1}'); do
    user="$(id -un "$uid" 2>/dev/null)" || continue
    systemctl --user --machine="$user@" stop seatguard-agent.service 2>/dev/null || true
  done
fi

rm -f "$(sysfile /etc/systemd/user/graphical-session.target.wants/seatguard-agent.service)" \
      "$(sysfile /etc/systemd/user/seatguard-agent.service)" \
      "$(sysfile /etc/xdg/autostart/seatguard-agent.desktop)" \
      "$(sysfile /etc/opt/chrome/policies/managed/seatguard.json)" \
      "$(sysfile /etc/chromium/policies/managed/seatguard.json)" \
      "$(sysfile /etc/opt/edge/policies/managed/seatguard.json)"
if [ "$(readlink "$(sysfile /usr/local/bin/seatguard-status)" 2>/dev/null)" = "$PREFIX/bin/seatguard-status" ]; then
  rm -f "$(sysfile /usr/local/bin/seatguard-status)"
fi

if [ -d "$PREFIX" ]; then
  rm -rf "${PREFIX:?}/bin" "$PREFIX/lib/seatguard-agent" "$PREFIX/venv" "$PREFIX/share/seatguard" "$PREFIX/share/doc/seatguard"
  rmdir "$PREFIX/lib" "$PREFIX/share/doc" "$PREFIX/share" "$PREFIX" 2>/dev/null || true
fi

if [ "$PURGE" = 1 ]; then
  rm -rf "$AGENT_HOME"
  say "removed the agent home $AGENT_HOME (enrollment and unsent events)"
else
  say "kept the agent home $AGENT_HOME (enrollment and any unsent events); --purge removes it"
fi
say "SeatGuard agent removed from $PREFIX"
