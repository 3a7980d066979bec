"""Waiting for another process (a worker, a server) to reach a state, without timing assertions."""

from __future__ import annotations

import time
from collections.abc import Callable

# A safety net so a broken worker fails the test instead of hanging CI; not a speed requirement.
_SAFETY_NET_SECONDS = 120


def wait_for(condition: Callable[[], object], what: str, limit_seconds: float = _SAFETY_NET_SECONDS) -> object:
    """Poll ``condition`` until it returns something truthy and return that value.

    Raises:
        AssertionError: naming ``what``, if the safety-net limit passes first.
    """
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"never reached: {what}")


def running_with_steps(job_id: str, settings) -> bool:
    """True once the job is running and has reported at least one training step."""
    from backend.jobs.store import RUNNING, JobStore

    job = JobStore(settings=settings).require(job_id)
    return job.status == RUNNING and job.step > 0
