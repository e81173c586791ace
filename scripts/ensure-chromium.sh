#!/usr/bin/env bash
# Browser tests need Debian's Chromium (and a CJK font, so zh-CN pages and their screenshots
# show characters, not boxes). Install them when we can (root with apt); otherwise stop with
# the one command that installs them. Browser tests are never silently skipped.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
have_font() { fc-list :lang=zh 2>/dev/null | grep -q .; }
if [ -x "$CHROMIUM" ] && have_font; then exit 0; fi
need=()
[ -x "$CHROMIUM" ] || need+=(chromium)
have_font || need+=(fonts-wqy-microhei)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} (apt-get) for the browser tests …"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ -x "$CHROMIUM" ] && exit 0
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "Chromium is missing at $CHROMIUM. Install it with:  sudo apt-get install -y chromium fonts-wqy-microhei" >&2
  echo "(or set CHROMIUM_PATH to a Chromium binary)" >&2
  exit 1
fi
echo "warning: no CJK font; zh-CN screenshots will show boxes (apt-get install fonts-wqy-microhei)" >&2
