#!/usr/bin/env bash
# Installs Debian's Chromium for the Playwright browser tests when it is missing and we may.
# Never fatal: without it the browser tests are skipped with a reason.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
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
echo "Installing Debian's Chromium for the browser tests"
$sudo_cmd apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null 2>&1 ||
  echo "Chromium could not be installed: browser tests will be skipped." >&2
exit 0
