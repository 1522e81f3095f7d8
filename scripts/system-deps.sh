#!/usr/bin/env bash
# Install the Debian packages the tests need (only what is missing; needs root or sudo).
set -euo pipefail
need=()
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xdotool >/dev/null || need+=(xdotool)
command -v openbox >/dev/null || need+=(openbox)  # EWMH window manager the X11 tests run under
command -v xclip >/dev/null || need+=(xclip)
command -v xmessage >/dev/null || need+=(x11-utils)
command -v chromium >/dev/null || need+=(chromium)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)  # Chinese text in browser screenshots
for pkg in ${SEATGUARD_EXTRA_APT:-}; do need+=("$pkg"); done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "system-deps: missing ${need[*]} and no root: the tests that need them will be skipped" >&2; exit 0
  fi
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
