#!/usr/bin/env bash
# One command to set up and run the whole test suite: bash scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh requirements-dev.txt
# The llama.cpp chat engine is tested too: built once here (pip keeps the wheel; see the script).
bash scripts/install-llama-cpp.sh
bash scripts/install-browser.sh
bash scripts/install-services.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
exec .venv/bin/python -m pytest "$@"
