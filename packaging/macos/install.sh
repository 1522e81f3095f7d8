#!/bin/bash
# Install the SeatGuard agent on a Mac for every user; run as root (sudo, or your MDM's script runner).
#
#   install.sh --from-build DIR [--prefix DIR] [--home DIR] [--owner USER]
#              [--config agent.toml] [--tls-ca ca.pem]
#              [--collector URL --token TOKEN [--name AGENT_ID]]
#
# --from-build  the macOS PyInstaller folder (scripts/build-agent.sh on a Mac), signed with your
#               Developer ID (packaging/README.md, "macOS")
# --prefix      program folder (default /Library/SeatGuard; the binary is PREFIX/agent/seatguard-agent,
#               the path the PPPC profile names)
# --home        agent home (default "/Library/Application Support/SeatGuard/agent")
# --owner       the user the agent runs as; owns --home (default: the user at the console)
# --config, --tls-ca, --collector, --token, --name: as in packaging/linux/install.sh
#
# Installs /Library/LaunchAgents/com.seatguard.agent.plist (started at every login), starts it for the
# user at the console, and shows them the notice. Needs bash 3.2 (the one macOS ships) and no more.
# Exit codes: 0 installed, 64 bad usage, 69 missing prerequisite, 70 enrollment failed.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX=/Library/SeatGuard
AGENT_HOME="/Library/Application Support/SeatGuard/agent"
OWNER=""
FROM_BUILD=""
CONFIG=""
TLS_CA=""
COLLECTOR=""
TOKEN=""
NAME=""
LABEL=com.seatguard.agent
PLIST="/Library/LaunchAgents/$LABEL.plist"
LOGS=/Library/Logs/SeatGuard

say() { printf 'seatguard-install: %s\n' "$*" >&2; }
die() { code=$1; shift; say "error: $*"; exit "$code"; }
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die 64 "$1 needs a value"; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --home) need_value "$@"; AGENT_HOME="$2"; shift 2 ;;
    --owner) need_value "$@"; OWNER="$2"; shift 2 ;;
    --from-build) need_value "$@"; FROM_BUILD="$2"; shift 2 ;;
    --config) need_value "$@"; CONFIG="$2"; shift 2 ;;
    --tls-ca) need_value "$@"; TLS_CA="$2"; shift 2 ;;
    --collector) need_value "$@"; COLLECTOR="$2"; shift 2 ;;
    --token) need_value "$@"; TOKEN="$2"; shift 2 ;;
    --name) need_value "$@"; NAME="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p;}' "$0"; exit 0 ;;
    *) die 64 "unknown option $1 (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die 64 "run as root (sudo)"
[ -n "$FROM_BUILD" ] || die 64 "--from-build DIR is required (the macOS PyInstaller folder)"
[ -x "$FROM_BUILD/seatguard-agent" ] || die 64 "--from-build $FROM_BUILD has no seatguard-agent program"
case "$PREFIX$AGENT_HOME" in *[\'\"\\\|\&]*) die 64 "--prefix and --home must not contain quotes, backslashes, | or &" ;; esac
if [ -n "$TOKEN" ] && [ -z "$COLLECTOR" ]; then die 64 "--token needs --collector"; fi
if [ -n "$COLLECTOR" ] && [ -z "$TOKEN" ]; then die 64 "--collector needs --token"; fi
if [ -n "$CONFIG" ] && [ ! -f "$CONFIG" ]; then die 64 "--config $CONFIG: no such file"; fi
if [ -n "$TLS_CA" ] && [ ! -f "$TLS_CA" ]; then die 64 "--tls-ca $TLS_CA: no such file"; fi
if [ -n "$TLS_CA" ] && [ -n "$CONFIG" ] && grep -Eq '^[[:space:]]*tls_verify[[:space:]]*=' "$CONFIG"; then
  die 64 "--config already sets tls_verify: give the CA in one place"
fi
CONSOLE_USER="$(stat -f %Su /dev/console 2>/dev/null || true)"
if [ -z "$OWNER" ]; then OWNER="$CONSOLE_USER"; fi
if [ -z "$OWNER" ] || [ "$OWNER" = root ] || [ "$OWNER" = loginwindow ]; then
  die 64 "nobody is logged in at the console: give --owner USER"
fi
id "$OWNER" >/dev/null 2>&1 || die 64 "--owner $OWNER: no such user"

# ---- the program ------------------------------------------------------------------------------------
AGENT="$PREFIX/bin/seatguard-agent"
mkdir -p "$PREFIX/bin"
rm -rf "$PREFIX/agent.new"
cp -R "$FROM_BUILD" "$PREFIX/agent.new"
rm -rf "$PREFIX/agent"
mv "$PREFIX/agent.new" "$PREFIX/agent"
ln -sfn ../agent/seatguard-agent "$AGENT"
printf '#!/bin/sh\nexec "%s" status --home "%s" "$@"\n' "$AGENT" "$AGENT_HOME" > "$PREFIX/bin/seatguard-status"
chmod 755 "$PREFIX/bin/seatguard-status"
install -m 755 "$HERE/uninstall.sh" "$PREFIX/uninstall.sh"
chown -R root:wheel "$PREFIX"
"$AGENT" --help >/dev/null || die 69 "the installed agent does not start (is it signed for this Mac?)"

# ---- the agent home -----------------------------------------------------------------------------------
mkdir -p "$AGENT_HOME"
chmod 700 "$AGENT_HOME"
if [ -n "$CONFIG" ] || [ -n "$TLS_CA" ]; then
  {
    if [ -n "$CONFIG" ]; then cat "$CONFIG"; echo; fi
    if [ -n "$TLS_CA" ]; then
      install -m 644 "$TLS_CA" "$AGENT_HOME/collector-ca.pem"
      printf 'tls_verify = "%s"\n' "$AGENT_HOME/collector-ca.pem"
    fi
  } > "$AGENT_HOME/agent.toml.new"
  mv "$AGENT_HOME/agent.toml.new" "$AGENT_HOME/agent.toml"
fi
if [ -n "$COLLECTOR" ]; then
  if [ -f "$AGENT_HOME/enrollment.json" ]; then
    say "$AGENT_HOME is already enrolled; keeping that enrollment (the token was not used)"
  elif [ -n "$NAME" ]; then
    "$AGENT" enroll --home "$AGENT_HOME" --collector "$COLLECTOR" --token "$TOKEN" --name "$NAME" \
      || die 70 "enrollment with $COLLECTOR failed (see the message above)"
  else
    "$AGENT" enroll --home "$AGENT_HOME" --collector "$COLLECTOR" --token "$TOKEN" \
      || die 70 "enrollment with $COLLECTOR failed (see the message above)"
  fi
fi
NOTICE=""
if [ -f "$AGENT_HOME/enrollment.json" ]; then
  NOTICE="$("$AGENT" status --home "$AGENT_HOME" | sed '/^$/q')" || die 69 "the agent cannot read $AGENT_HOME"
fi
chown -R "$OWNER" "$AGENT_HOME"
mkdir -p "$LOGS"
chown "$OWNER" "$LOGS"

# ---- launchd, status command, notice -------------------------------------------------------------------
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@AGENT_HOME@|$AGENT_HOME|g" "$HERE/$LABEL.plist" > "$PLIST"
chown root:wheel "$PLIST"
chmod 644 "$PLIST"
plutil -lint "$PLIST" >/dev/null || die 69 "$PLIST is not a valid property list"
mkdir -p /usr/local/bin
ln -sfn "$PREFIX/bin/seatguard-status" /usr/local/bin/seatguard-status

if [ -n "$CONSOLE_USER" ] && [ "$CONSOLE_USER" = "$OWNER" ] && [ -f "$AGENT_HOME/enrollment.json" ]; then
  uid="$(id -u "$OWNER")"
  launchctl bootout "gui/$uid/$LABEL" 2>/dev/null || true
  launchctl bootstrap "gui/$uid" "$PLIST" || say "could not start it now; it starts at the next login"
  if [ -n "$NOTICE" ]; then
    # AppleScript string: backslashes and double quotes escaped
    text="$(printf '%s' "$NOTICE" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
    launchctl asuser "$uid" sudo -u "$OWNER" osascript \
      -e "display dialog \"$text\" with title \"SeatGuard is running\" buttons {\"OK\"} default button 1" \
      >/dev/null 2>&1 &
  fi
fi

say "installed in $PREFIX; agent home $AGENT_HOME (owner $OWNER)"
say "grant the agent Accessibility, Input Monitoring and Screen Recording (PPPC profile or System Settings)"
