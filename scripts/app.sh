#!/usr/bin/env bash
# One command to set up and run the app: bash scripts/app.sh [streamlit options]
# Installs requirements into .venv, starts the fine-tuning worker, then serves the app.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh requirements.txt
exec .venv/bin/python -m streamlit run app.py "$@"
