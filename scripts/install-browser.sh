#!/usr/bin/env bash
# Installs Debian's Chromium (and a Chinese font, so screenshots show Chinese text rather than
# boxes) for the Playwright browser tests when they are missing and we may install packages.
# Never fatal: without Chromium the browser tests are skipped with a reason.
set -uo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/fonts/truetype/wqy ] || missing+=(fonts-wqy-zenhei)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: cannot install ${missing[*]}; browser tests may be skipped." >&2
  exit 0
fi
sudo_cmd=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo_cmd="sudo -n"; else
    echo "Not root and no sudo: cannot install ${missing[*]}; browser tests may be skipped." >&2
    exit 0
  fi
fi
echo "Installing ${missing[*]} for the browser tests"
$sudo_cmd apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  echo "Could not install ${missing[*]}: browser tests may be skipped." >&2
exit 0
