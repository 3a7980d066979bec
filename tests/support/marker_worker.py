"""A worker process for the distributed-job tests: the real generic worker (queue consumer, claims
in the job store, heartbeats, reaping of dead workers) with one cheap job kind, ``marker``.

A marker job appends this worker's pid to ``executions.txt`` in its run folder, then waits
``params["seconds"]`` (stopping when cancelled), so a test counts real executions per job and
sees which worker ran each. Start it with ``python -m tests.support.marker_worker``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.jobs import worker
from backend.jobs.progress import JobCancelled, ProgressCallback
from backend.jobs.store import Job
from backend.jobs.worker import JobHandler

MARKER = "marker"
EXECUTIONS = "executions.txt"


def _run(
    job: Job, events: ProgressCallback, should_stop: Any, settings: Settings
) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = Path(job.run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / EXECUTIONS).open("a", encoding="utf-8") as executions:
        executions.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + float(job.params.get("seconds", 0))
    while time.monotonic() < deadline:
        if should_stop():
            raise JobCancelled("Stopped on request")
        time.sleep(0.05)
    return {"pid": os.getpid()}, {}


HANDLERS = {MARKER: JobHandler(run=_run, doing="The marker job", output="marker", memory_advice="Nothing to change")}

if __name__ == "__main__":
    sys.exit(worker.main(HANDLERS))
