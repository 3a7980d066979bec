#!/usr/bin/env bash
# Install llama-cpp-python (requirements-llama-cpp.txt) into .venv for the llama.cpp chat engine.
# PyPI ships only its source: the first install compiles llama.cpp for this CPU (about 10 minutes
# on 2 cores; pip keeps the built wheel, so later installs take seconds). It needs a C++ compiler,
# installed with apt-get when missing and allowed; cmake comes from PyPI with the build.
# Usage: bash scripts/install-llama-cpp.sh   (after scripts/setup.sh made .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

wanted="$(grep -E '^llama-cpp-python==' requirements-llama-cpp.txt | cut -d= -f3)"
installed="$(.venv/bin/python -c 'from importlib import metadata; print(metadata.version("llama-cpp-python"))' 2>/dev/null || true)"
[ "$installed" = "$wanted" ] && exit 0

if ! command -v c++ >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ >/dev/null; }
  else
    echo "llama-cpp-python needs a C++ compiler (g++ or clang++) to build; install one and run this again." >&2
    exit 1
  fi
fi

echo "Building llama-cpp-python $wanted for this CPU (once; about 10 minutes on 2 cores)"
# The library alone: no multimodal library, command-line tools, examples or HTTP downloads.
export CMAKE_ARGS="${CMAKE_ARGS:-} -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
.venv/bin/python -m pip install --quiet --no-deps -r requirements-llama-cpp.txt
