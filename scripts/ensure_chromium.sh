#!/usr/bin/env bash
# The browser tests drive Debian's Chromium headless. Install it when missing and we are root.
set -euo pipefail
# fonts-wqy-microhei: without a CJK font, Chinese labels render as boxes in screenshots
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk"; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Chromium is missing: installing Debian's chromium package for the browser tests …"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
  exit 0
fi
if [ -x /usr/bin/chromium ]; then
  echo "note: no CJK font found; Chinese labels in screenshots will be boxes (apt-get install fonts-wqy-microhei)" >&2
  exit 0
fi
echo "The browser tests need Chromium at /usr/bin/chromium: sudo apt-get install -y chromium" >&2
exit 1
