#!/usr/bin/env bash
# Installs Debian's Chromium (and a small CJK font, so screenshots show the Chinese text) for the
# Playwright browser tests when they are missing and we may.
# Never fatal: without Chromium the browser tests are skipped with a reason.
set -uo pipefail
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || packages+=(fonts-wqy-microhei)
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: browser tests will be skipped." >&2
  exit 0
fi
sudo_cmd=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo_cmd="sudo -n"; else
    echo "Not root and no sudo: browser tests will be skipped." >&2
    exit 0
  fi
fi
echo "Installing ${packages[*]} from Debian for the browser tests"
$sudo_cmd apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${packages[@]}" >/dev/null 2>&1 ||
  echo "${packages[*]} could not be installed: browser tests may be skipped." >&2
exit 0
