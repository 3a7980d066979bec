"""The worker's entry point: ``python -m backend.worker`` runs queued jobs of every kind.

This is the one place that knows which kinds exist: it lists each kind (classifier training,
chat tuning, preference tuning, batch inference, use-case measurement, engine checks and the compression lab, each declared beside its
own code as a ``JobKind``) and hands their handlers to the generic worker in ``backend.jobs``.
"""

from __future__ import annotations

import sys

from backend.config import Settings
from backend.decisions.measure import MEASURE_KIND
from backend.inference.batch import BATCH_KIND
from backend.inference.compression_lab import LAB_KIND
from backend.inference.engine_check import ENGINE_CHECK_KIND
from backend.jobs import worker
from backend.jobs.kinds import JobKind, handlers_of
from backend.jobs.worker import Handlers
from backend.training.chat.studio import CHAT_KIND
from backend.training.classifier.studio import CLASSIFIER_KIND
from backend.training.preference.studio import PREFERENCE_KIND

KINDS: tuple[JobKind, ...] = (
    CLASSIFIER_KIND,
    CHAT_KIND,
    PREFERENCE_KIND,
    BATCH_KIND,
    MEASURE_KIND,
    ENGINE_CHECK_KIND,
    LAB_KIND,
)
HANDLERS: Handlers = handlers_of(KINDS)
# How a message names one job of each kind (marked for translation; show with ``_()``).
KIND_NOUNS: dict[str, str] = {kind.name: kind.noun for kind in KINDS}


def run_job(job_id: str, settings: Settings | None = None) -> str:
    """Run one queued job in this process with the registered handlers; returns its final status."""
    return worker.execute_job(job_id, HANDLERS, settings)


def main(argv: list[str] | None = None) -> int:
    """Consume the queue with every registered handler (``--slot``, ``--idle-exit``)."""
    return worker.main(HANDLERS, argv)


if __name__ == "__main__":
    sys.exit(main())
