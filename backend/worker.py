"""The worker's entry point: ``python -m backend.worker`` runs queued jobs of every kind.

This is the one place that knows which kinds exist: it wires each kind to its handler
(training, chat tuning and batch inference) and hands the table to the generic worker in ``backend.jobs``.
"""

from __future__ import annotations

import sys

from backend.config import Settings
from backend.inference.batch import BATCH, BATCH_HANDLER
from backend.jobs import worker
from backend.jobs.worker import Handlers
from backend.training.chat_params import CHAT
from backend.training.chat_runner import CHAT_HANDLER
from backend.training.runner import TRAIN, TRAINING_HANDLER

HANDLERS: Handlers = {TRAIN: TRAINING_HANDLER, BATCH: BATCH_HANDLER, CHAT: CHAT_HANDLER}


def run_job(job_id: str, settings: Settings | None = None) -> str:
    """Run one queued job in this process with the registered handlers; returns its final status."""
    return worker.execute_job(job_id, HANDLERS, settings)


def main(argv: list[str] | None = None) -> int:
    """Consume the queue with every registered handler (``--slot``, ``--idle-exit``)."""
    return worker.main(HANDLERS, argv)


if __name__ == "__main__":
    sys.exit(main())
