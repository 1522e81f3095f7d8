#!/usr/bin/env bash
# Install the SeatGuard agent on a Linux (X11) PC for every desktop user; run as root.
#
#   install.sh [--prefix DIR] [--home DIR] [--owner USER]
#              [--from-build DIR | --from-source DIR [--python PY]]
#              [--config agent.toml] [--tls-ca ca.pem]
#              [--collector URL --token TOKEN [--name AGENT_ID]]
#              [--extension-id ID [--extension-update-url URL] [--extension-port N]]
#              [--root DIR] [--no-enable]
#
# --prefix     program folder (default /opt/seatguard)
# --home       agent home: agent.toml, enrollment, sealed spool (default /var/opt/seatguard/agent)
# --owner      the desktop user the agent runs as; owns --home (default: $SUDO_USER, else you)
# --from-build a PyInstaller folder (scripts/build-agent.sh); the default when one is found
#              next to this script (seatguard-agent/) or in the source tree (dist/seatguard-agent/)
# --from-source a SeatGuard source tree: a Python venv is made in PREFIX/venv (needs Python 3.11+
#              and the package index); --python names the interpreter (default python3)
# --config     pre-seeds HOME/agent.toml (settings: `seatguard-agent config-doc`)
# --tls-ca     the collector's CA bundle or pinned certificate: copied to HOME, sets tls_verify
# --collector/--token/--name  enroll now with a one-time token (silent installs); an already
#              enrolled home is kept as it is
# --extension-id  force-install the browser extension in Chrome, Chromium and Edge by policy and
#              hand it the agent's port and secret (packaging/browser-policy/README.md)
# --root       where system files go (default /): systemd user unit, XDG autostart entry,
#              browser policies, /usr/local/bin/seatguard-status. For staging and tests.
# --no-enable  install the systemd user unit without enabling it for every user
#
# Exit codes: 0 installed, 64 bad usage, 69 missing prerequisite, 70 enrollment failed.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
SRC_ROOT="$(cd "$HERE/../.." && pwd)"
PREFIX=/opt/seatguard
AGENT_HOME=/var/opt/seatguard/agent
OWNER="${SUDO_USER:-$(id -un)}"
FROM_BUILD=""
FROM_SOURCE=""
PYTHON=python3
CONFIG=""
TLS_CA=""
COLLECTOR=""
TOKEN=""
NAME=""
EXT_ID=""
EXT_URL="https://clients2.google.com/service/update2/crx"
EXT_PORT=47533
ROOT=/
ENABLE=1

say() { printf 'seatguard-install: %s\n' "$*" >&2; }
die() { code=$1; shift; say "error: $*"; exit "$code"; }
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die 64 "$1 needs a value"; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
    --home) need_value "$@"; AGENT_HOME="$2"; shift 2 ;;
    --owner) need_value "$@"; OWNER="$2"; shift 2 ;;
    --from-build) need_value "$@"; FROM_BUILD="$2"; shift 2 ;;
    --from-source) need_value "$@"; FROM_SOURCE="$2"; shift 2 ;;
    --python) need_value "$@"; PYTHON="$2"; shift 2 ;;
    --config) need_value "$@"; CONFIG="$2"; shift 2 ;;
    --tls-ca) need_value "$@"; TLS_CA="$2"; shift 2 ;;
    --collector) need_value "$@"; COLLECTOR="$2"; shift 2 ;;
    --token) need_value "$@"; TOKEN="$2"; shift 2 ;;
    --name) need_value "$@"; NAME="$2"; shift 2 ;;
    --extension-id) need_value "$@"; EXT_ID="$2"; shift 2 ;;
    --extension-update-url) need_value "$@"; EXT_URL="$2"; shift 2 ;;
    --extension-port) need_value "$@"; EXT_PORT="$2"; shift 2 ;;
    --root) need_value "$@"; ROOT="$2"; shift 2 ;;
    --no-enable) ENABLE=0; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p;}' "$0"; exit 0 ;;
    *) die 64 "unknown option $1 (see --help)" ;;
  esac
done

# ---- checks before anything is touched ------------------------------------------------------------
case "$PREFIX$AGENT_HOME" in *[\'\"\\\|\&[:space:]]*) die 64 "--prefix and --home must not contain quotes, backslashes, |, & or spaces" ;; esac
case "$PREFIX" in /*) ;; *) die 64 "--prefix must be an absolute path" ;; esac
case "$AGENT_HOME" in /*) ;; *) die 64 "--home must be an absolute path" ;; esac
if [ -n "$TOKEN" ] && [ -z "$COLLECTOR" ]; then die 64 "--token needs --collector"; fi
if [ -n "$COLLECTOR" ] && [ -z "$TOKEN" ]; then die 64 "--collector needs --token"; fi
if [ -n "$FROM_BUILD" ] && [ -n "$FROM_SOURCE" ]; then die 64 "give --from-build or --from-source, not both"; fi
if [ -n "$CONFIG" ] && [ ! -f "$CONFIG" ]; then die 64 "--config $CONFIG: no such file"; fi
if [ -n "$TLS_CA" ] && [ ! -f "$TLS_CA" ]; then die 64 "--tls-ca $TLS_CA: no such file"; fi
if [ -n "$TLS_CA" ] && [ -n "$CONFIG" ] && grep -Eq '^[[:space:]]*tls_verify[[:space:]]*=' "$CONFIG"; then
  die 64 "--config already sets tls_verify: give the CA in one place"
fi
if [ -n "$EXT_ID" ]; then
  [[ "$EXT_ID" =~ ^[a-p]{32}$ ]] || die 64 "--extension-id must be 32 letters a-p"
  [[ "$EXT_URL" =~ ^https?://[^\"\\[:space:]]+$ ]] || die 64 "--extension-update-url must be an http(s) URL"
  [[ "$EXT_PORT" =~ ^[0-9]+$ ]] || die 64 "--extension-port must be a number"
fi
id "$OWNER" >/dev/null 2>&1 || die 64 "--owner $OWNER: no such user"

if [ -z "$FROM_BUILD" ] && [ -z "$FROM_SOURCE" ]; then
  for candidate in "$HERE/seatguard-agent" "$SRC_ROOT/dist/seatguard-agent"; do
    if [ -x "$candidate/seatguard-agent" ]; then FROM_BUILD="$candidate"; break; fi
  done
  if [ -z "$FROM_BUILD" ] && [ -f "$SRC_ROOT/pyproject.toml" ]; then FROM_SOURCE="$SRC_ROOT"; fi
  [ -n "$FROM_BUILD$FROM_SOURCE" ] || die 64 "no frozen build found: give --from-build DIR or --from-source DIR"
fi
if [ -n "$FROM_BUILD" ] && [ ! -x "$FROM_BUILD/seatguard-agent" ]; then
  die 64 "--from-build $FROM_BUILD has no seatguard-agent program (build it with scripts/build-agent.sh)"
fi
if [ -n "$FROM_SOURCE" ]; then
  [ -f "$FROM_SOURCE/pyproject.toml" ] || die 64 "--from-source $FROM_SOURCE is not a SeatGuard source tree"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die 69 "$PYTHON is missing or older than Python 3.11"
fi

# ---- the program ------------------------------------------------------------------------------------
mkdir -p "$PREFIX/bin" "$PREFIX/share/seatguard" "$PREFIX/share/doc/seatguard"
if [ -n "$FROM_BUILD" ]; then
  say "installing the frozen agent from $FROM_BUILD"
  rm -rf "$PREFIX/lib/seatguard-agent.new"
  mkdir -p "$PREFIX/lib"
  cp -a "$FROM_BUILD" "$PREFIX/lib/seatguard-agent.new"
  rm -rf "$PREFIX/lib/seatguard-agent" "$PREFIX/venv"
  mv "$PREFIX/lib/seatguard-agent.new" "$PREFIX/lib/seatguard-agent"
  ln -sfn ../lib/seatguard-agent/seatguard-agent "$PREFIX/bin/seatguard-agent"
else
  say "installing the agent into a virtual environment from $FROM_SOURCE"
  [ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
  "$PREFIX/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${FROM_SOURCE}[agent]"
  rm -rf "$PREFIX/lib/seatguard-agent"
  ln -sfn ../venv/bin/seatguard-agent "$PREFIX/bin/seatguard-agent"
fi

render() {  # template -> file with @PREFIX@ and @AGENT_HOME@ filled in
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@AGENT_HOME@|$AGENT_HOME|g" "$1" > "$2"
}
render "$HERE/seatguard-agent-session" "$PREFIX/bin/seatguard-agent-session"
render "$HERE/seatguard-status" "$PREFIX/bin/seatguard-status"
chmod 755 "$PREFIX/bin/seatguard-agent-session" "$PREFIX/bin/seatguard-status"
render "$HERE/seatguard-agent.service" "$PREFIX/share/seatguard/seatguard-agent.service"
render "$HERE/seatguard-agent.desktop" "$PREFIX/share/seatguard/seatguard-agent.desktop"
install -m 755 "$HERE/uninstall.sh" "$PREFIX/share/seatguard/uninstall.sh"
if [ -f "$HERE/../README.md" ]; then install -m 644 "$HERE/../README.md" "$PREFIX/share/doc/seatguard/README.md"; fi
"$PREFIX/bin/seatguard-agent" --help >/dev/null || die 69 "the installed agent does not start"

# ---- the agent home: settings, CA, extension secret, enrollment ------------------------------------
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
  say "pre-seeded $AGENT_HOME/agent.toml"
fi
EXT_SECRET=""
if [ -n "$EXT_ID" ]; then
  if [ -s "$AGENT_HOME/extension-secret" ]; then
    EXT_SECRET="$(tr -d '[:space:]' < "$AGENT_HOME/extension-secret")"
  else
    EXT_SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
    (umask 077 && printf '%s\n' "$EXT_SECRET" > "$AGENT_HOME/extension-secret")
  fi
fi
if [ -n "$COLLECTOR" ]; then
  if [ -f "$AGENT_HOME/enrollment.json" ]; then
    say "$AGENT_HOME is already enrolled; keeping that enrollment (the token was not used)"
  else
    enroll=("$PREFIX/bin/seatguard-agent" enroll --home "$AGENT_HOME" --collector "$COLLECTOR" --token "$TOKEN")
    if [ -n "$NAME" ]; then enroll+=(--name "$NAME"); fi
    "${enroll[@]}" || die 70 "enrollment with $COLLECTOR failed (see the message above)"
  fi
fi
if [ -f "$AGENT_HOME/enrollment.json" ]; then
  "$PREFIX/bin/seatguard-agent" status --home "$AGENT_HOME" >&2 || die 69 "the installed agent cannot read $AGENT_HOME"
else
  say "not enrolled yet: run $PREFIX/bin/seatguard-agent enroll --home $AGENT_HOME --collector URL --token TOKEN"
fi
if [ "$(id -u)" = 0 ]; then chown -R "$OWNER:" "$AGENT_HOME"; fi

# ---- session start-up, status command, browser policy ----------------------------------------------
sysfile() { printf '%s%s' "${ROOT%/}" "$1"; }
mkdir -p "$(sysfile /etc/systemd/user)" "$(sysfile /etc/xdg/autostart)" "$(sysfile /usr/local/bin)"
install -m 644 "$PREFIX/share/seatguard/seatguard-agent.service" "$(sysfile /etc/systemd/user/seatguard-agent.service)"
install -m 644 "$PREFIX/share/seatguard/seatguard-agent.desktop" "$(sysfile /etc/xdg/autostart/seatguard-agent.desktop)"
if [ "$ENABLE" = 1 ]; then  # what `systemctl --global enable` does, without needing a running systemd
  mkdir -p "$(sysfile /etc/systemd/user/graphical-session.target.wants)"
  ln -sfn ../seatguard-agent.service "$(sysfile /etc/systemd/user/graphical-session.target.wants/seatguard-agent.service)"
fi
ln -sfn "$PREFIX/bin/seatguard-status" "$(sysfile /usr/local/bin/seatguard-status)"
if [ -n "$EXT_ID" ]; then
  for dir in /etc/opt/chrome/policies/managed /etc/chromium/policies/managed /etc/opt/edge/policies/managed; do
    mkdir -p "$(sysfile "$dir")"
    cat > "$(sysfile "$dir/seatguard.json")" <<JSON
{
  "ExtensionInstallForcelist": ["$EXT_ID;$EXT_URL"],
  "3rdparty": {"extensions": {"$EXT_ID": {"port": $EXT_PORT, "secret": "$EXT_SECRET"}}}
}
JSON
    chmod 644 "$(sysfile "$dir/seatguard.json")"
  done
  say "browser policy written for extension $EXT_ID (Chrome, Chromium, Edge)"
fi

say "installed in $PREFIX; agent home $AGENT_HOME (owner $OWNER)"
say "the agent starts at the next desktop login; to start it now in a running session: systemctl --user start seatguard-agent"
